#include "fool/search/ascent.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "fool/core/error.h"
#include "fool/core/names.h"
#include "fool/core/thresholds.h"
#include "fool/core/rng.h"
#include "fool/core/stats.h"

namespace fool {

namespace {
const NameTable<AscentStart>& start_table() {
  static const NameTable<AscentStart> t = {
      {AscentStart::Gray, "gray"}, {AscentStart::Mean, "mean"}, {AscentStart::Noise, "noise"}};
  return t;
}
const std::vector<double> kThresholds = ascent_thresholds();
}

const std::string& ascent_start_name(AscentStart start) { return name_of(start_table(), start); }
AscentStart parse_ascent_start(const std::string& name) { return parse_name(start_table(), name, "start image"); }
const std::vector<std::string>& ascent_start_names() {
  static const std::vector<std::string> names = names_of(start_table());
  return names;
}

void AscentConfig::validate(int num_classes) {
  if (steps < 1) throw Error("steps must be at least 1, got " + std::to_string(steps));
  if (!(start_noise >= 0.0 && start_noise <= 1.0)) throw Error("start noise must be in [0, 1]");
  if (!(max_gain > 0.0 && max_gain <= 1.0)) throw Error("max gain must be in (0, 1]");
  if (!(gain_fraction > 0.0 && gain_fraction <= 1.0)) throw Error("gain fraction must be in (0, 1]");
  if (!(decay >= 0.0 && decay < 1.0)) throw Error("decay must be in [0, 1)");
  if (!(blur_sigma >= 0.0 && blur_sigma <= 10.0)) throw Error("blur sigma must be in [0, 10]");
  if (blur_every < 0) throw Error("blur interval must not be negative");
  if (blur_every > 0 && blur_sigma == 0.0) throw Error("blur every N steps needs a blur sigma");
  if (!(target >= 0.0 && target <= 1.0)) throw Error("target confidence must be in [0, 1]");
  if (classes.empty())
    for (int k = 0; k < num_classes; ++k) classes.push_back(k);
  for (int k : classes)
    if (k < 0 || k >= num_classes) {
      throw Error("class " + std::to_string(k) + " is out of range: the model has classes 0.." +
                  std::to_string(num_classes - 1));
    }
}

void gaussian_blur(float* chw, const ImageShape& s, double sigma) {
  if (sigma <= 0.0) return;
  const int r = std::max(1, static_cast<int>(std::ceil(3.0 * sigma)));
  std::vector<float> k(static_cast<std::size_t>(2 * r + 1));
  double sum = 0.0;
  for (int i = -r; i <= r; ++i) sum += k[static_cast<std::size_t>(i + r)] = static_cast<float>(std::exp(-0.5 * i * i / (sigma * sigma)));
  for (auto& v : k) v = static_cast<float>(v / sum);
  const int h = s.height, w = s.width;
  std::vector<float> tmp(static_cast<std::size_t>(h) * static_cast<std::size_t>(w));
  for (int c = 0; c < s.channels; ++c) {
    float* img = chw + static_cast<std::size_t>(c) * static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        float acc = 0.0f;
        for (int i = -r; i <= r; ++i) acc += k[static_cast<std::size_t>(i + r)] * img[y * w + std::clamp(x + i, 0, w - 1)];
        tmp[static_cast<std::size_t>(y * w + x)] = acc;
      }
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        float acc = 0.0f;
        for (int i = -r; i <= r; ++i) acc += k[static_cast<std::size_t>(i + r)] * tmp[static_cast<std::size_t>(std::clamp(y + i, 0, h - 1) * w + x)];
        img[y * w + x] = acc;
      }
  }
}

namespace {

// The start and decay target: the model's mean image in [0,1], or mid-gray if it has none.
std::vector<float> mean_image(const ModelSpec& spec) {
  const auto& pre = spec.preprocessing;
  const std::size_t plane = static_cast<std::size_t>(spec.input.height) * static_cast<std::size_t>(spec.input.width);
  std::vector<float> m(spec.input.size(), 0.5f);
  if (pre.mean.empty()) return m;
  for (int c = 0; c < spec.input.channels; ++c) {
    const int src = (spec.input.channels == 3 && pre.channel_order == "bgr") ? 2 - c : c;
    const float v = std::clamp(pre.mean[static_cast<std::size_t>(src)] / pre.scale, 0.0f, 1.0f);
    std::fill(m.begin() + static_cast<long>(static_cast<std::size_t>(c) * plane),
              m.begin() + static_cast<long>(static_cast<std::size_t>(c + 1) * plane), v);
  }
  return m;
}

bool all_finite(const float* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

}  // namespace

nlohmann::json AscentStepStats::record() const {
  return {{"step", step},           {"seconds", seconds},       {"min", min},
          {"median", median},       {"max", max},               {"classes_at_99", at_99},
          {"classes_at_999", at_999}, {"classes_at_9999", at_9999}, {"active", active}};
}

std::string AscentStepStats::status() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, ">=99%%: %zu  >=99.99%%: %zu  active %zu  median %.4f", at_99, at_9999, active, median);
  return buf;
}

AscentOutcome run_ascent(DifferentiableClassifier& clf, AscentConfig cfg, const RunEvents& events,
                         const std::atomic<bool>* stop) {
  const ModelSpec& spec = clf.spec();
  cfg.validate(spec.num_classes);
  const ImageShape shape = spec.input;
  const std::size_t n = cfg.classes.size(), size = shape.size();
  const std::vector<float> mean = mean_image(spec);
  const std::vector<float> gray(size, 0.5f);
  const std::vector<float>& centre = cfg.start == AscentStart::Mean ? mean : gray;

  // State per class: its image, its last probability, when it crossed each threshold.
  ImageBatch x(n, shape);
  for (std::size_t i = 0; i < n; ++i) {
    Rng rng = Rng::derive(cfg.seed, 0x61736364, static_cast<std::uint64_t>(cfg.classes[i]));
    for (std::size_t p = 0; p < size; ++p) {
      const double v = cfg.start == AscentStart::Noise ? rng.uniform() : centre[p] + cfg.start_noise * rng.normal();
      x.image(i)[p] = static_cast<float>(std::clamp(v, 0.0, 1.0));
    }
  }
  const std::vector<float>& anchor = cfg.start == AscentStart::Noise ? gray : centre;  // what decay pulls toward
  std::vector<float> prob(n, 0.0f);
  // Per class, a multiplier on the paper's step: halved when a step lowered the probability
  // (the predicted gain overshot, e.g. into the clamp), grown back toward 1 while steps pay off.
  std::vector<double> scale(n, 1.0);
  std::vector<bool> blurred(n, false);  // the last update included a blur: its loss is not overshoot
  // The best image each class has shown (its probability was measured on exactly this image).
  ImageBatch best(n, shape);
  std::vector<float> best_prob(n, -1.0f);
  std::vector<std::vector<int>> first(n, std::vector<int>(kThresholds.size(), -1));
  std::vector<bool> active(n, true);
  std::vector<std::string> error(n);
  std::vector<int> steps_taken(n, 0);

  AscentOutcome out;
  const auto start = std::chrono::steady_clock::now();
  int step = 0;
  for (; step < cfg.steps; ++step) {
    if (stop != nullptr && stop->load()) {
      out.complete = false;
      break;
    }
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < n; ++i)
      if (active[i]) idx.push_back(i);
    if (idx.empty()) break;
    ImageBatch batch(idx.size(), shape);
    std::vector<int> targets;
    for (std::size_t j = 0; j < idx.size(); ++j) {
      std::copy(x.image(idx[j]), x.image(idx[j]) + size, batch.image(j));
      targets.push_back(cfg.classes[idx[j]]);
    }
    ImageBatch grad;
    const Matrix p = clf.probabilities_and_gradients(batch, targets, &grad);
    out.evaluations += idx.size();
    std::vector<std::size_t> check;  // batch rows at the target in float: is their 8-bit image too?
    for (std::size_t j = 0; j < idx.size(); ++j) {
      const std::size_t i = idx[j];
      const float pj = p(j, static_cast<std::size_t>(targets[j]));
      float* g = grad.image(j);
      if (!std::isfinite(pj) || !all_finite(g, size)) {
        active[i] = false;
        error[i] = "NaN or infinity in the " + std::string(std::isfinite(pj) ? "gradient" : "probability") +
                   " at step " + std::to_string(step) + "; the class was stopped";
        out.errors.push_back("class " + std::to_string(cfg.classes[i]) + " (" +
                             spec.labels[static_cast<std::size_t>(cfg.classes[i])] + "): " + error[i]);
        continue;
      }
      if (step > 0 && !blurred[i]) {
        scale[i] = pj < prob[i] ? std::max(1e-6, scale[i] * 0.5) : std::min(1.0, scale[i] * 1.1);
      }
      prob[i] = pj;
      if (pj > best_prob[i]) {
        best_prob[i] = pj;
        std::copy(batch.image(j), batch.image(j) + size, best.image(i));
      }
      steps_taken[i] = step;
      for (std::size_t t = 0; t < kThresholds.size(); ++t)
        if (first[i][t] < 0 && pj >= kThresholds[t]) first[i][t] = step;
      if (cfg.target > 0.0 && pj >= cfg.target) check.push_back(j);
      // Step so that the first-order predicted gain |g|^2 * s equals the wanted gain.
      double norm2 = 0.0;
      for (std::size_t q = 0; q < size; ++q) norm2 += static_cast<double>(g[q]) * g[q];
      if (norm2 <= 0.0) continue;
      const double gain = scale[i] * std::min(cfg.max_gain, cfg.gain_fraction * (1.0 - pj));
      const auto s = static_cast<float>(gain / norm2);
      float* xi = x.image(i);
      const auto keep = static_cast<float>(1.0 - cfg.decay);
      for (std::size_t q = 0; q < size; ++q) {
        float v = xi[q] + s * g[q];
        v = anchor[q] + keep * (v - anchor[q]);
        xi[q] = std::clamp(v, 0.0f, 1.0f);
      }
      blurred[i] = cfg.blur_every > 0 && (step + 1) % cfg.blur_every == 0;
      if (blurred[i]) gaussian_blur(xi, shape, cfg.blur_sigma);
    }
    // A class is done when its image as it will be saved scores at the target. The check uses the
    // image before this step's update, which is the one whose probability was just measured.
    if (!check.empty()) {
      ImageBatch q(check.size(), shape);
      for (std::size_t k = 0; k < check.size(); ++k) q.set(k, quantize(batch.image(check[k]), shape));
      const Matrix pq = clf.probabilities(q);
      for (std::size_t k = 0; k < check.size(); ++k) {
        const std::size_t j = check[k], i = idx[j];
        if (pq(k, static_cast<std::size_t>(cfg.classes[i])) < cfg.target) continue;
        // Done: report the image that passed, even if an earlier one scored higher in float but
        // fell short once quantised.
        active[i] = false;
        best_prob[i] = p(j, static_cast<std::size_t>(targets[j]));
        std::copy(batch.image(j), batch.image(j) + size, best.image(i));
      }
    }
    {
      AscentStepStats s;
      s.step = step;
      s.min = *std::min_element(prob.begin(), prob.end());
      s.max = *std::max_element(prob.begin(), prob.end());
      s.median = median(std::vector<double>(prob.begin(), prob.end()));
      for (float v : prob) {
        s.at_99 += v >= static_cast<float>(kConfident);
        s.at_999 += v >= static_cast<float>(kVeryConfident);
        s.at_9999 += v >= static_cast<float>(kFoolingConfidence);
      }
      s.active = static_cast<std::size_t>(std::count(active.begin(), active.end(), true));
      s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      events.progress({"ascend", static_cast<std::size_t>(step + 1), static_cast<std::size_t>(cfg.steps), s.status(),
                       s.record()});
    }
  }
  out.steps = step;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (std::size_t i = 0; i < n; ++i) {
    ClassResult r;
    r.index = cfg.classes[i];
    r.label = spec.labels[static_cast<std::size_t>(r.index)];
    r.image = quantize(best.image(i), shape);
    r.search_confidence = std::max(0.0f, best_prob[i]);
    r.first_reached = first[i];
    r.extra = {{"steps", steps_taken[i] + 1}};
    if (!error[i].empty()) r.extra["error"] = error[i];
    out.classes.push_back(std::move(r));
  }
  return out;
}

}  // namespace fool
