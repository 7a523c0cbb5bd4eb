#include "fool/search/ascent.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "fool/core/error.h"
#include "fool/core/names.h"
#include "fool/core/rng.h"
#include "fool/core/stats.h"
#include "fool/core/thresholds.h"

namespace fool {

namespace {
const NameTable<AscentStart>& start_table() {
  static const NameTable<AscentStart> t = {
      {AscentStart::Gray, "gray"}, {AscentStart::Mean, "mean"}, {AscentStart::Noise, "noise"}};
  return t;
}
const std::vector<double> kThresholds = ascent_thresholds();
// Down to this probability a step follows the paper's rule (a predicted gain in p); below it, where
// p and its gradient underflow a float, a step aims for kMaxLogGain nats of log p instead.
constexpr double kPaperRuleDownTo = 1e-12;
// The gain in log p a step aims for below kPaperRuleDownTo.
constexpr double kMaxLogGain = 5.0;
// How often a class goes back to its best image after a NaN or infinity before it is stopped.
constexpr int kMaxRecoveries = 3;
}  // namespace

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
  const long r = std::max(1L, static_cast<long>(std::ceil(3.0 * sigma)));
  std::vector<float> k(static_cast<std::size_t>(2 * r + 1));
  double sum = 0.0;
  for (long i = -r; i <= r; ++i)
    sum += k[static_cast<std::size_t>(i + r)] = static_cast<float>(std::exp(-0.5 * i * i / (sigma * sigma)));
  for (auto& v : k) v = static_cast<float>(v / sum);
  const auto h = static_cast<std::size_t>(s.height), w = static_cast<std::size_t>(s.width);
  // Index of pixel (y, x) with y, x clamped to the image (edges replicated).
  auto at = [&](long y, long x) {
    const auto cy = static_cast<std::size_t>(std::clamp(y, 0L, static_cast<long>(h) - 1));
    const auto cx = static_cast<std::size_t>(std::clamp(x, 0L, static_cast<long>(w) - 1));
    return cy * w + cx;
  };
  std::vector<float> tmp(h * w);
  for (std::size_t c = 0; c < static_cast<std::size_t>(s.channels); ++c) {
    float* img = chw + c * h * w;
    for (std::size_t y = 0; y < h; ++y)
      for (std::size_t x = 0; x < w; ++x) {
        float acc = 0.0f;
        for (long i = -r; i <= r; ++i)
          acc += k[static_cast<std::size_t>(i + r)] * img[at(static_cast<long>(y), static_cast<long>(x) + i)];
        tmp[y * w + x] = acc;
      }
    for (std::size_t y = 0; y < h; ++y)
      for (std::size_t x = 0; x < w; ++x) {
        float acc = 0.0f;
        for (long i = -r; i <= r; ++i)
          acc += k[static_cast<std::size_t>(i + r)] * tmp[at(static_cast<long>(y) + i, static_cast<long>(x))];
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
    const int src = (spec.input.channels == 3 && pre.channel_order == ChannelOrder::Bgr) ? 2 - c : c;
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
  return {{"step", step},
          {"seconds", seconds},
          {"min", min},
          {"median", median},
          {"max", max},
          {"classes_at_99", at_99},
          {"classes_at_999", at_999},
          {"classes_at_9999", at_9999},
          {"active", active}};
}

std::string AscentStepStats::status() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, ">=99%%: %zu  >=99.99%%: %zu  active %zu  median %.4f", at_99, at_9999, active,
                median);
  return buf;
}

namespace {

// The state of one ascent: per class its image, its last probability, its step multiplier, the best
// image it has shown, and when it crossed each threshold. One method per phase of a step.
class Ascent {
 public:
  Ascent(DifferentiableClassifier& clf, const AscentConfig& cfg)
      : clf_(clf),
        cfg_(cfg),
        spec_(clf.spec()),
        shape_(spec_.input),
        n_(cfg.classes.size()),
        size_(shape_.size()),
        x_(n_, shape_),
        best_(n_, shape_),
        prob_(n_, 0.0f),
        scale_(n_, 1.0),
        blurred_(n_, false),
        best_prob_(n_, -1.0f),
        first_(n_, std::vector<int>(kThresholds.size(), -1)),
        active_(n_, true),
        error_(n_),
        steps_taken_(n_, 0) {
    const std::vector<float> mean = mean_image(spec_);
    const std::vector<float> gray(size_, 0.5f);
    const std::vector<float>& centre = cfg_.start == AscentStart::Mean ? mean : gray;
    for (std::size_t i = 0; i < n_; ++i) {
      Rng rng = Rng::derive(cfg_.seed, 0x61736364, static_cast<std::uint64_t>(cfg_.classes[i]));
      for (std::size_t p = 0; p < size_; ++p) {
        const double v = cfg_.start == AscentStart::Noise ? rng.uniform() : centre[p] + cfg_.start_noise * rng.normal();
        x_.image(i)[p] = static_cast<float>(std::clamp(v, 0.0, 1.0));
      }
    }
    anchor_ = cfg_.start == AscentStart::Noise ? gray : centre;  // what decay pulls toward
  }

  // One step for every active class; returns false when none is active.
  bool step(int step, AscentOutcome& out) {
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < n_; ++i)
      if (active_[i]) idx.push_back(i);
    if (idx.empty()) return false;
    ImageBatch batch(idx.size(), shape_);
    std::vector<int> targets;
    for (std::size_t j = 0; j < idx.size(); ++j) {
      std::copy(x_.image(idx[j]), x_.image(idx[j]) + size_, batch.image(j));
      targets.push_back(cfg_.classes[idx[j]]);
    }
    ImageBatch grad;  // of log p: it does not vanish where p underflows (the paper's gain rule is kept, below)
    const Matrix logp = clf_.log_probabilities_and_gradients(batch, targets, &grad);
    out.evaluations += idx.size();
    std::vector<std::size_t> check;  // batch rows at the target in float: is their 8-bit image too?
    std::vector<float> p(idx.size());
    for (std::size_t j = 0; j < idx.size(); ++j) {
      const double lj = logp(j, static_cast<std::size_t>(targets[j]));
      p[j] = static_cast<float>(std::exp(lj));
      if (update_class(idx[j], step, lj, batch.image(j), grad.image(j), out) && cfg_.target > 0.0 &&
          p[j] >= cfg_.target) {
        check.push_back(j);
      }
    }
    if (!check.empty()) stop_classes_at_target(batch, idx, check, p);
    return true;
  }

  AscentStepStats stats(int step, double seconds) const {
    AscentStepStats s;
    s.step = step;
    s.min = *std::min_element(prob_.begin(), prob_.end());
    s.max = *std::max_element(prob_.begin(), prob_.end());
    s.median = median(std::vector<double>(prob_.begin(), prob_.end()));
    for (float v : prob_) {
      s.at_99 += v >= static_cast<float>(kConfident);
      s.at_999 += v >= static_cast<float>(kVeryConfident);
      s.at_9999 += v >= static_cast<float>(kFoolingConfidence);
    }
    s.active = static_cast<std::size_t>(std::count(active_.begin(), active_.end(), true));
    s.seconds = seconds;
    return s;
  }

  // Each class's best image (8-bit), its probability and first steps at the thresholds.
  std::vector<ClassResult> results() const {
    std::vector<ClassResult> out;
    for (std::size_t i = 0; i < n_; ++i) {
      ClassResult r;
      r.index = cfg_.classes[i];
      r.label = spec_.labels[static_cast<std::size_t>(r.index)];
      r.image = quantize(best_.image(i), shape_);
      r.search_confidence = std::max(0.0f, best_prob_[i]);
      r.first_reached = first_[i];
      r.extra = {{"steps", steps_taken_[i] + 1}, {"status", status(i)}};
      if (!error_[i].empty()) r.extra["error"] = error_[i];
      out.push_back(std::move(r));
    }
    return out;
  }

 private:
  // An overshoot of class i into NaN or infinity (lj: log p): back to the best image with a quarter
  // of the step, a few times; then the class stops with an error.
  void overshoot(std::size_t i, int step, double lj, AscentOutcome& out) {
    if (best_prob_[i] >= 0.0f && ++failures_[i] <= kMaxRecoveries) {
      std::copy(best_.image(i), best_.image(i) + size_, x_.image(i));
      scale_[i] = std::max(1e-6, scale_[i] * 0.25);
      prob_[i] = best_prob_[i];
      logp_[i] = best_logp_[i];
      steps_taken_[i] = step;
      blurred_[i] = true;  // the next probability is not compared with this step's
      return;
    }
    active_[i] = false;
    error_[i] = "NaN or infinity in the " + std::string(std::isnan(lj) || lj > 0.0 ? "probability" : "gradient") +
                " at step " + std::to_string(step) + "; the class was stopped";
    out.errors.push_back("class " + std::to_string(cfg_.classes[i]) + " (" +
                         spec_.labels[static_cast<std::size_t>(cfg_.classes[i])] + "): " + error_[i]);
  }

  // Records class i's probability pj of `image` and steps its image along gradient g. Returns false
  // if the class was stopped by a NaN or infinity.
  // lj: log p of `image` (-inf where a backend without logits has p = 0).
  bool update_class(std::size_t i, int step, double lj, const float* image, const float* g, AscentOutcome& out) {
    const auto pj = static_cast<float>(std::exp(lj));
    if (std::isnan(lj) || lj > 0.0 || !all_finite(g, size_)) {
      overshoot(i, step, lj, out);
      return false;
    }
    failures_[i] = 0;
    // The step multiplier halves when a step lowered the probability (the predicted gain overshot,
    // e.g. into the clamp) and grows back toward 1 while steps pay off; a blur's loss is not overshoot.
    if (step > 0 && !blurred_[i]) {
      scale_[i] = lj < logp_[i] ? std::max(1e-6, scale_[i] * 0.5) : std::min(1.0, scale_[i] * 1.1);
    }
    prob_[i] = pj;
    logp_[i] = lj;
    if (lj > best_logp_[i] || best_prob_[i] < 0.0f) {
      best_logp_[i] = lj;
      best_prob_[i] = pj;
      best_step_[i] = step;
      std::copy(image, image + size_, best_.image(i));
    }
    steps_taken_[i] = step;
    for (std::size_t t = 0; t < kThresholds.size(); ++t)
      if (first_[i][t] < 0 && pj >= kThresholds[t]) first_[i][t] = step;
    // g is the gradient of log p. The paper's rule wants a first-order gain in p of
    // gain = min(max_gain, gain_fraction * (1 - p)), i.e. a gain of gain / p in log p: the step
    // s * g with |g|^2 * s = gain / p is exactly the paper's step along the gradient of p, and is
    // taken down to p = kPaperRuleDownTo (the paper's settings reproduce unchanged). Below it (p and
    // its gradient underflow to 0 in float on peaked networks, after an overshoot too) a step aims
    // for kMaxLogGain nats of log p instead of vanishing. In double: gain / |g|^2 can overflow a
    // float. Steps past the pixel range are clamped, as the paper's are.
    const double gain = scale_[i] * std::min(cfg_.max_gain, cfg_.gain_fraction * (1.0 - pj));
    const double p = std::exp(lj);  // in double: no underflow down to log p = -745
    const bool capped = !(p >= kPaperRuleDownTo);
    const double log_gain = capped ? scale_[i] * kMaxLogGain : gain / p;
    float* xi = x_.image(i);
    // Far from the target (capped steps) the step leaves out pixels that the gradient pushes past
    // the range they already sit at the edge of: a clamp would undo those, and their share of
    // |g|^2 would shrink the step that the others take.
    auto moves = [&](std::size_t q) {
      return !capped || !((xi[q] <= 0.0f && g[q] < 0.0f) || (xi[q] >= 1.0f && g[q] > 0.0f));
    };
    double norm2 = 0.0;
    for (std::size_t q = 0; q < size_; ++q)
      if (moves(q)) norm2 += static_cast<double>(g[q]) * g[q];
    if (norm2 <= 0.0) return true;
    const double s = log_gain / norm2;
    const double keep = 1.0 - cfg_.decay;
    for (std::size_t q = 0; q < size_; ++q) {
      const double v = anchor_[q] + keep * (xi[q] + (moves(q) ? s * g[q] : 0.0) - anchor_[q]);
      xi[q] = static_cast<float>(std::clamp(v, 0.0, 1.0));
    }
    blurred_[i] = cfg_.blur_every > 0 && (step + 1) % cfg_.blur_every == 0;
    if (blurred_[i]) gaussian_blur(xi, shape_, cfg_.blur_sigma);
    return true;
  }

  // "reached target", "stopped by NaN", "stalled" (below the target, its best probability last
  // improved more than a fifth of the steps, at least 20, before its last step) or "ran all steps".
  std::string status(std::size_t i) const {
    if (!error_[i].empty()) return "stopped by NaN";
    if (cfg_.target > 0.0 && best_prob_[i] >= cfg_.target) return "reached target";
    const int patience = std::max(20, cfg_.steps / 5);
    if (steps_taken_[i] - best_step_[i] >= patience) return "stalled";
    return "ran all steps";
  }

 public:
  // The classes that stalled, one line each ("class 3 (3): stalled at p = 2e-08 since step 9").
  std::vector<std::string> stalled() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n_; ++i) {
      if (status(i) != "stalled") continue;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3g", static_cast<double>(std::max(0.0f, best_prob_[i])));
      out.push_back("class " + std::to_string(cfg_.classes[i]) + " (" +
                    spec_.labels[static_cast<std::size_t>(cfg_.classes[i])] + "): stalled at best p = " + buf +
                    " since step " + std::to_string(best_step_[i]));
    }
    return out;
  }

 private:
  // A class is done when its image as it will be saved scores at the target. The check uses the
  // image before this step's update, which is the one whose probability was just measured.
  void stop_classes_at_target(const ImageBatch& batch, const std::vector<std::size_t>& idx,
                              const std::vector<std::size_t>& check, const std::vector<float>& p) {
    ImageBatch q(check.size(), shape_);
    for (std::size_t k = 0; k < check.size(); ++k) q.set(k, quantize(batch.image(check[k]), shape_));
    const Matrix pq = clf_.probabilities(q);
    for (std::size_t k = 0; k < check.size(); ++k) {
      const std::size_t j = check[k], i = idx[j];
      if (pq(k, static_cast<std::size_t>(cfg_.classes[i])) < cfg_.target) continue;
      // Done: report the image that passed, even if an earlier one scored higher in float but
      // fell short once quantised.
      active_[i] = false;
      best_prob_[i] = p[j];
      std::copy(batch.image(j), batch.image(j) + size_, best_.image(i));
    }
  }

  DifferentiableClassifier& clf_;
  const AscentConfig& cfg_;
  const ModelSpec& spec_;
  const ImageShape shape_;
  const std::size_t n_, size_;
  ImageBatch x_;     // the current images
  ImageBatch best_;  // the best image each class has shown (its probability measured on exactly it)
  std::vector<float> anchor_;
  std::vector<float> prob_;
  std::vector<double> scale_;
  std::vector<bool> blurred_;  // the last update included a blur
  std::vector<float> best_prob_;
  std::vector<std::vector<int>> first_;
  std::vector<bool> active_;
  std::vector<std::string> error_;
  std::vector<int> steps_taken_;
  std::vector<int> best_step_ = std::vector<int>(n_, 0);     // the step whose image is best_
  std::vector<double> logp_ = std::vector<double>(n_, 0.0);  // log prob_, exact where prob_ underflows
  std::vector<double> best_logp_ = std::vector<double>(n_, -std::numeric_limits<double>::infinity());
  std::vector<int> failures_ = std::vector<int>(n_, 0);  // NaN recoveries in a row
};

}  // namespace

AscentOutcome run_ascent(DifferentiableClassifier& classifier, AscentConfig config, const RunEvents& events,
                         const std::atomic<bool>* stop, const AscentWatch& watch) {
  config.validate(classifier.spec().num_classes);
  Ascent ascent(classifier, config);
  AscentOutcome out;
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  int step = 0;
  for (; step < config.steps; ++step) {
    if (stop != nullptr && stop->load()) {
      out.complete = false;
      out.interrupted = true;
      break;
    }
    if (!ascent.step(step, out)) break;
    const AscentStepStats s = ascent.stats(step, seconds());
    events.progress(
        {"ascend", static_cast<std::size_t>(step + 1), static_cast<std::size_t>(config.steps), s.status(), s.record()});
    if (watch) watch(step + 1, [&ascent] { return ascent.results(); });
  }
  out.steps = step;
  out.seconds = seconds();
  out.classes = ascent.results();
  out.stalled = ascent.stalled();
  if (!out.stalled.empty()) out.complete = false;
  return out;
}

}  // namespace fool
