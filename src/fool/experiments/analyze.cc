#include "fool/experiments/analyze.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "fool/core/error.h"
#include "fool/core/rng.h"
#include "fool/core/stats.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/model/cropping_classifier.h"
#include "fool/model/factory.h"
#include "fool/output/run_directory.h"
#include "fool/output/run_summary.h"

namespace fool {

namespace fs = std::filesystem;

namespace {

// A run's champions and the classifier that scores them as the run did.
struct LoadedRun {
  RunSummary summary;
  std::vector<Image8> images;  // one per summary.classes entry
  ImageShape shape;
  std::shared_ptr<Classifier> classifier;
  std::size_t chunk = 200;
};

std::string model_path(const std::string& run_dir, const RunSummary& s, const AnalysisModelOptions& o) {
  if (!o.model.empty()) return o.model;
  const fs::path p(s.record.model);
  // A run made with a relative model path from another directory: try beside the run as well.
  if (!fs::exists(p) && p.is_relative() && fs::exists(fs::path(run_dir) / p)) return (fs::path(run_dir) / p).string();
  return s.record.model;
}

LoadedRun load_run(const std::string& run_dir, const AnalysisModelOptions& o) {
  LoadedRun run;
  run.summary = read_summary(run_dir);
  const std::string summary_path = (fs::path(run_dir) / "summary.json").string();
  if (run.summary.classes.empty()) throw Error(summary_path + ": the run has no champions to analyse");
  for (const auto& c : run.summary.classes) {
    run.images.push_back(read_image((fs::path(run_dir) / c.image).string()));
    if (run.images.back().shape != run.images.front().shape) {
      throw Error((fs::path(run_dir) / c.image).string() + ": " + run.images.back().shape.str() +
                  " differs from the run's other images (" + run.images.front().shape.str() + ")");
    }
  }
  run.shape = run.images.front().shape;
  ClassifierOptions co;
  const std::string backend =
      !o.backend.empty() ? o.backend : (run.summary.record.backend.empty() ? "opencv" : run.summary.record.backend);
  co.backend = parse_backend(backend);
  co.threads = o.threads;
  co.overrides = o.overrides;
  co.on_warning = o.on_warning;
  // The run's own model is fed as the run fed it; flags that say otherwise are refused.
  const auto& recorded = run.summary.record.model_input;
  const bool own_model = o.model.empty();
  if (own_model && recorded && o.overrides.feeds_as_model_says()) {
    co.overrides = recorded->overrides();
    co.overrides.labels = o.overrides.labels;
  }
  const nlohmann::json& settings = run.summary.record.settings;
  const int crops = settings.is_object() && settings.contains("crops") && settings["crops"].is_number_integer()
                        ? settings["crops"].get<int>()
                        : 1;
  if (crops != 1 && crops != 10)
    throw Error(summary_path + ": settings.crops must be 1 or 10, not " + std::to_string(crops));
  std::shared_ptr<Classifier> model = load_classifier(model_path(run_dir, run.summary, o), co);
  const ModelSpec& spec = model->spec();
  if (own_model && recorded && ModelInputRecord::of(spec) != *recorded) {
    throw Error(summary_path + ": the run fed its model as " + recorded->describe() + "; the flags say " +
                ModelInputRecord::of(spec).describe() + " (leave them out to score as the run did)");
  }
  for (const auto& c : run.summary.classes) {
    if (c.index < 0 || c.index >= spec.num_classes) {
      throw Error(summary_path + ": class " + std::to_string(c.index) + " is not a class of " + spec.path);
    }
  }
  // Exactly as run_evolve scores: images larger than the input, or 10-crop runs, go through crops.
  run.classifier = model;
  if (run.shape != spec.input || crops != 1) run.classifier = make_cropping_classifier(model, run.shape, crops);
  run.chunk = o.chunk;
  return run;
}

// The confidence for class k of each image, converted to floats a bounded number at a time (a few
// hundred ImageNet-sized images would otherwise take gigabytes).
std::vector<double> confidences(LoadedRun& run, const std::vector<Image8>& images, int k) {
  const std::size_t budget = std::size_t{256} << 20;  // bytes of floats per batch
  const std::size_t per = std::max<std::size_t>(1, std::min(run.chunk, budget / (run.shape.size() * sizeof(float))));
  std::vector<double> out;
  out.reserve(images.size());
  for (std::size_t begin = 0; begin < images.size(); begin += per) {
    const std::size_t end = std::min(images.size(), begin + per);
    ImageBatch batch(end - begin, run.shape);
    for (std::size_t i = begin; i < end; ++i) batch.set(i - begin, images[i]);
    const Matrix p = score_in_chunks(*run.classifier, batch, run.chunk);
    for (std::size_t i = 0; i < batch.size(); ++i) out.push_back(p(i, static_cast<std::size_t>(k)));
  }
  return out;
}

std::vector<float> to_gray(const Image8& image) {
  const auto& s = image.shape;
  const std::size_t plane = static_cast<std::size_t>(s.height) * static_cast<std::size_t>(s.width);
  std::vector<float> g(plane, 0.0f);
  for (int c = 0; c < s.channels; ++c)
    for (std::size_t i = 0; i < plane; ++i) g[i] += image.pixels[c * plane + i];
  for (auto& v : g) v /= static_cast<float>(s.channels) * 255.0f;
  return g;
}

// The period along one axis, from the autocorrelation r[s] at shifts s = 0..r.size()-1: among the
// peaks that qualify, the shortest whose correlation is within 0.1 of the best one. Multiples of the
// period qualify as well as it; a chance peak at a fraction of the period of a small motif is weaker.
int axis_period(const std::vector<double>& r, int size, const RepetitionConfig& config, double* correlation) {
  std::vector<int> peaks;
  double lowest = 1.0, best = 0.0;
  for (int s = 1; s + 1 < static_cast<int>(r.size()) && s <= size / 2; ++s) {
    lowest = std::min(lowest, r[s - 1]);
    if (s < config.min_period) continue;
    const bool peak = r[s] > r[s - 1] && r[s] >= r[s + 1];
    if (peak && r[s] >= config.threshold && r[s] - lowest >= config.prominence) {
      peaks.push_back(s);
      best = std::max(best, r[s]);
    }
  }
  for (int s : peaks) {
    if (r[s] >= best - 0.1) {
      *correlation = r[s];
      return s;
    }
  }
  return 0;
}

void split_axis(int size, int period, std::vector<std::pair<int, int>>* cells) {
  const int step = period > 0 ? period : size;
  // A remainder shorter than half a period joins the last cell rather than counting as a copy.
  const int count = std::max(1, (size + step / 2) / step);
  for (int i = 0; i < count; ++i) {
    const int start = i * step;
    const int end = i + 1 == count ? size : start + step;
    cells->emplace_back(start, end - start);
  }
}

std::string image_name(const std::string& relative, const std::string& suffix);

// Analysis files stay inside the run: a folder (analysis/, images/) that is a link leading out of
// it is refused, before any work and again when writing.
void write_json(const std::string& run_dir, const std::string& name, const nlohmann::json& j) {
  const fs::path dir = fs::path(run_dir) / "analysis";
  create_directories_inside(run_dir, dir.string());
  write_file_inside(run_dir, (dir / name).string(), j.dump(2) + "\n");
}

void write_pngs(const std::string& run_dir, const std::vector<std::pair<std::string, Image8>>& pngs) {
  for (const auto& [name, png] : pngs) {
    const std::vector<std::uint8_t> bytes = encode_png(png);
    write_file_inside(run_dir, (fs::path(run_dir) / name).string(), bytes.data(), bytes.size());
  }
}

// Checks, before the work, that the analysis can be written where it goes, and locks the run.
RunLock lock_for_analysis(const std::string& run_dir, const LoadedRun& run, const std::string& json_name,
                          const std::string& image_suffix) {
  RunLock lock = open_run_directory(run_dir, run.summary.record.command, true);
  check_no_link_leaving(run_dir, (fs::path(run_dir) / "analysis" / json_name).string());
  for (const ClassSummary& c : run.summary.classes) {
    check_no_link_leaving(run_dir, (fs::path(run_dir) / image_name(c.image, image_suffix)).string());
  }
  return lock;
}

std::string image_name(const std::string& relative, const std::string& suffix) {
  fs::path p(relative);
  return (p.parent_path() / (p.stem().string() + suffix + ".png")).generic_string();
}

}  // namespace

// ---- repetition ----

double shifted_correlation(const std::vector<float>& gray, int height, int width, int dy, int dx) {
  if (dy < 0 || dx < 0 || dy >= height || dx >= width) return 0.0;
  const int h = height - dy, w = width - dx;
  const double n = static_cast<double>(h) * w;
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (int y = 0; y < h; ++y) {
    const float* a = gray.data() + static_cast<std::size_t>(y) * width;
    const float* b = gray.data() + static_cast<std::size_t>(y + dy) * width + dx;
    for (int x = 0; x < w; ++x) {
      sa += a[x];
      sb += b[x];
      saa += static_cast<double>(a[x]) * a[x];
      sbb += static_cast<double>(b[x]) * b[x];
      sab += static_cast<double>(a[x]) * b[x];
    }
  }
  const double va = saa - sa * sa / n, vb = sbb - sb * sb / n;
  if (va <= 1e-9 * n || vb <= 1e-9 * n) return 0.0;  // a constant side has no pattern to repeat
  return (sab - sa * sb / n) / std::sqrt(va * vb);
}

Period find_period(const Image8& image, const RepetitionConfig& config) {
  const int h = image.shape.height, w = image.shape.width;
  const std::vector<float> g = to_gray(image);
  std::vector<double> ry{1.0}, rx{1.0};
  for (int s = 1; s <= h / 2 + 1 && s < h; ++s) ry.push_back(shifted_correlation(g, h, w, s, 0));
  for (int s = 1; s <= w / 2 + 1 && s < w; ++s) rx.push_back(shifted_correlation(g, h, w, 0, s));
  Period p;
  p.dy = axis_period(ry, h, config, &p.correlation_y);
  p.dx = axis_period(rx, w, config, &p.correlation_x);
  return p;
}

std::vector<Tile> period_tiles(const ImageShape& shape, const Period& period) {
  std::vector<std::pair<int, int>> rows, cols;
  split_axis(shape.height, period.dy, &rows);
  split_axis(shape.width, period.dx, &cols);
  std::vector<Tile> tiles;
  for (const auto& r : rows)
    for (const auto& c : cols) tiles.push_back({r.first, c.first, r.second, c.second});
  return tiles;
}

std::vector<double> mean_colour(const Image8& image) {
  const std::size_t plane = static_cast<std::size_t>(image.shape.height) * static_cast<std::size_t>(image.shape.width);
  std::vector<double> m(image.shape.channels, 0.0);
  for (int c = 0; c < image.shape.channels; ++c) {
    double sum = 0;
    for (std::size_t i = 0; i < plane; ++i) sum += image.pixels[c * plane + i];
    m[c] = plane ? sum / static_cast<double>(plane) : 0.0;
  }
  return m;
}

void fill_tiles(Image8& image, const std::vector<Tile>& tiles, const std::vector<double>& colour) {
  const auto& s = image.shape;
  const std::size_t plane = static_cast<std::size_t>(s.height) * static_cast<std::size_t>(s.width);
  for (int c = 0; c < s.channels; ++c) {
    const auto v = static_cast<std::uint8_t>(std::lround(std::clamp(colour[c], 0.0, 255.0)));
    for (const Tile& t : tiles)
      for (int y = t.top; y < t.top + t.height && y < s.height; ++y)
        for (int x = t.left; x < t.left + t.width && x < s.width; ++x)
          image.pixels[c * plane + static_cast<std::size_t>(y) * s.width + x] = v;
  }
}

std::vector<int> removal_steps(int copies, int max_steps) {
  std::vector<int> steps;
  if (copies <= max_steps) {
    for (int r = 0; r < copies; ++r) steps.push_back(r);
    return steps;
  }
  for (int i = 0; i < max_steps; ++i)
    steps.push_back(static_cast<int>(std::lround(static_cast<double>(i) * (copies - 1) / (max_steps - 1))));
  steps.push_back(copies / 2);  // the "half" the summary reports is always measured
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

double RepetitionImage::half_copies() const {
  const auto at = std::find(removed.begin(), removed.end(), copies / 2);
  return at == removed.end() ? confidences.front() : confidences[static_cast<std::size_t>(at - removed.begin())];
}

nlohmann::json RepetitionResult::to_json() const {
  nlohmann::json imgs = nlohmann::json::array();
  std::vector<double> all, half, one, all_rep, half_rep, one_rep;
  std::size_t repeating = 0;
  for (const auto& im : images) {
    imgs.push_back(
        {{"class", im.class_index},
         {"label", im.label},
         {"image", im.image},
         {"repeats", im.period.repeats()},
         {"period", {{"dy", im.period.dy}, {"dx", im.period.dx}}},
         {"correlation", {{"y", im.period.correlation_y}, {"x", im.period.correlation_x}}},
         {"copies", im.copies},
         {"confidence_all_copies", im.all_copies()},
         {"confidence_half_copies", im.half_copies()},
         {"confidence_one_copy", im.one_copy()},
         {"copies_removed", im.removed},
         {"confidence_by_copies_removed", im.confidences},
         {"one_copy_image", im.one_copy_image.empty() ? nlohmann::json() : nlohmann::json(im.one_copy_image)}});
    all.push_back(im.all_copies());
    if (im.period.repeats()) {
      ++repeating;
      all_rep.push_back(im.all_copies());
      half_rep.push_back(im.half_copies());
      one_rep.push_back(im.one_copy());
    }
  }
  return {{"format", "fool-repetition/1"},
          {"run", run_dir},
          {"config",
           {{"threshold", config.threshold},
            {"prominence", config.prominence},
            {"min_period", config.min_period},
            {"max_steps", config.max_steps}}},
          {"images", imgs.size()},
          {"repeating", repeating},
          {"median_confidence", median(all)},
          {"repeating_median",
           {{"all_copies", median(all_rep)}, {"half_copies", median(half_rep)}, {"one_copy", median(one_rep)}}},
          {"classes", imgs}};
}

RepetitionResult analyze_repetition(const std::string& run_dir, const RepetitionConfig& config,
                                    const RunEvents& events) {
  if (config.min_period < 1) throw Error("--min-period must be at least 1, not " + std::to_string(config.min_period));
  if (config.max_steps < 2) throw Error("--max-steps must be at least 2, not " + std::to_string(config.max_steps));
  LoadedRun run = load_run(run_dir, config.model);
  const RunLock lock = lock_for_analysis(run_dir, run, "repetition.json", "_one_copy");
  const std::string task = "analyze repetition";
  RepetitionResult result;
  result.run_dir = run_dir;
  result.config = config;
  std::vector<std::pair<std::string, Image8>> pngs;  // written after every image is scored
  const std::size_t n = run.summary.classes.size();
  for (std::size_t i = 0; i < n; ++i) {
    const ClassSummary& c = run.summary.classes[i];
    const Image8& image = run.images[i];
    RepetitionImage r;
    r.class_index = c.index;
    r.label = c.label;
    r.image = c.image;
    r.period = find_period(image, config);
    const std::vector<Tile> tiles = period_tiles(image.shape, r.period);
    r.copies = static_cast<int>(tiles.size());
    // Removal r fills the last r tiles (reverse raster order); the first tile is the copy kept.
    const std::vector<double> colour = mean_colour(image);
    r.removed = removal_steps(r.copies, config.max_steps);
    std::vector<Image8> variants;
    for (int removed : r.removed) {
      Image8 v = image;
      fill_tiles(v, std::vector<Tile>(tiles.end() - removed, tiles.end()), colour);
      variants.push_back(std::move(v));
    }
    r.confidences = confidences(run, variants, c.index);
    if (r.copies > 1) {
      r.one_copy_image = image_name(c.image, "_one_copy");
      pngs.emplace_back(r.one_copy_image, variants.back());
    }
    result.images.push_back(std::move(r));
    const auto& last = result.images.back();
    events.progress({task, i + 1, n,
                     "class " + std::to_string(c.index) +
                         (last.period.repeats() ? ": " + std::to_string(last.copies) + " copies" : ": no repetition"),
                     nullptr});
  }
  write_pngs(run_dir, pngs);
  const nlohmann::json j = result.to_json();
  write_json(run_dir, "repetition.json", j);
  events.finish(task,
                std::to_string(j["repeating"].get<std::size_t>()) + " of " + std::to_string(n) + " images repeat");
  return result;
}

// ---- occlusion ----

std::vector<int> patch_positions(int size, int patch, int stride) {
  std::vector<int> out;
  if (patch >= size) return {0};
  for (int p = 0; p + patch <= size; p += stride) out.push_back(p);
  if (out.back() + patch < size) out.push_back(size - patch);
  return out;
}

Image8 occlusion_heatmap(const std::vector<float>& drops, int height, int width, double scale) {
  Image8 out;
  out.shape = {3, height, width};
  const std::size_t plane = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  out.pixels.assign(3 * plane, 255);
  if (!(scale > 0)) return out;
  for (std::size_t i = 0; i < plane; ++i) {
    const double t = std::clamp(drops[i] / scale, -1.0, 1.0);
    const auto fade = static_cast<std::uint8_t>(std::lround(255.0 * (1.0 - std::abs(t))));
    // A drop (the image needs this region) shades to red, a rise to blue.
    if (t > 0) {
      out.pixels[plane + i] = fade;
      out.pixels[2 * plane + i] = fade;
    } else {
      out.pixels[i] = fade;
      out.pixels[plane + i] = fade;
    }
  }
  return out;
}

nlohmann::json OcclusionResult::to_json() const {
  nlohmann::json imgs = nlohmann::json::array();
  std::vector<double> base, mean_drops, max_drops;
  std::vector<std::vector<double>> filled(config.fractions.size());
  for (const auto& im : images) {
    nlohmann::json f = nlohmann::json::array();
    for (std::size_t k = 0; k < config.fractions.size(); ++k) {
      f.push_back({{"fraction", config.fractions[k]},
                   {"median_confidence", im.filled_median[k]},
                   {"confidences", im.filled[k]}});
      filled[k].push_back(im.filled_median[k]);
    }
    imgs.push_back({{"class", im.class_index},
                    {"label", im.label},
                    {"image", im.image},
                    {"heatmap", im.heatmap},
                    {"confidence", im.confidence},
                    {"positions", {im.positions_y, im.positions_x}},
                    {"max_drop", im.max_drop},
                    {"mean_drop", im.mean_drop},
                    {"drops", im.drops},
                    {"filled", f}});
    base.push_back(im.confidence);
    mean_drops.push_back(im.mean_drop);
    max_drops.push_back(im.max_drop);
  }
  nlohmann::json med = nlohmann::json::array();
  for (std::size_t k = 0; k < config.fractions.size(); ++k)
    med.push_back({{"fraction", config.fractions[k]}, {"median_confidence", median(filled[k])}});
  return {{"format", "fool-occlusion/1"},
          {"run", run_dir},
          {"config",
           {{"patch", config.patch},
            {"stride", config.stride},
            {"fractions", config.fractions},
            {"masks", config.masks},
            {"seed", config.seed}}},
          {"images", imgs.size()},
          {"median_confidence", median(base)},
          {"median_mean_drop", median(mean_drops)},
          {"median_max_drop", median(max_drops)},
          {"filled", med},
          {"classes", imgs}};
}

namespace {

// Where the sliding patch goes and which tiles the random masks fill.
struct OcclusionLayout {
  std::vector<int> ys, xs;  // patch positions (top, left)
  std::vector<Tile> grid;   // patch-sized cells, cut at the bottom and right edges
};

void check_occlusion_config(const OcclusionConfig& config) {
  if (config.patch < 0) throw Error("--patch must not be negative, got " + std::to_string(config.patch));
  if (config.stride < 0) throw Error("--stride must not be negative, got " + std::to_string(config.stride));
  if (config.masks < 1) throw Error("--masks must be at least 1, got " + std::to_string(config.masks));
  for (double f : config.fractions)
    if (!(f >= 0.0 && f <= 1.0)) throw Error("--fractions must lie in [0, 1], got " + std::to_string(f));
}

// Resolves the automatic patch and stride for images of `shape` and lays out the positions.
OcclusionLayout occlusion_layout(OcclusionConfig& config, const ImageShape& shape) {
  const int h = shape.height, w = shape.width;
  if (config.patch == 0) config.patch = std::max(1, std::min(h, w) / 8);
  if (config.stride == 0) config.stride = std::max(1, config.patch / 2);
  if (config.patch > std::min(h, w)) {
    throw Error("--patch " + std::to_string(config.patch) + " is larger than the images (" + shape.str() + ")");
  }
  OcclusionLayout l;
  l.ys = patch_positions(h, config.patch, config.stride);
  l.xs = patch_positions(w, config.patch, config.stride);
  for (int y = 0; y < h; y += config.patch)
    for (int x = 0; x < w; x += config.patch)
      l.grid.push_back({y, x, std::min(config.patch, h - y), std::min(config.patch, w - x)});
  return l;
}

// The image itself, then one per patch position (row-major), then config.masks per fraction.
std::vector<Image8> occlusion_variants(const Image8& image, int class_index, const OcclusionLayout& l,
                                       const OcclusionConfig& config) {
  const std::vector<double> colour = mean_colour(image);
  std::vector<Image8> variants{image};
  for (int y : l.ys)
    for (int x : l.xs) {
      Image8 v = image;
      fill_tiles(v, {{y, x, config.patch, config.patch}}, colour);
      variants.push_back(std::move(v));
    }
  for (std::size_t k = 0; k < config.fractions.size(); ++k) {
    const auto count = static_cast<std::size_t>(std::lround(config.fractions[k] * static_cast<double>(l.grid.size())));
    for (int m = 0; m < config.masks; ++m) {
      // Each (class, fraction, mask) has its own stream: results do not depend on the order.
      Rng rng = Rng::derive(config.seed, static_cast<std::uint64_t>(class_index),
                            k * 100003u + static_cast<std::uint64_t>(m));
      std::vector<Tile> order = l.grid;
      for (std::size_t j = 0; j < count; ++j) std::swap(order[j], order[j + rng.below(order.size() - j)]);
      order.resize(count);
      Image8 v = image;
      fill_tiles(v, order, colour);
      variants.push_back(std::move(v));
    }
  }
  return variants;
}

// Fills o's drops and statistics from the variants' confidences; returns the per-pixel map (H x W:
// the mean drop over the patch positions covering each pixel) and its colour scale in *extent.
std::vector<float> sensitivity(OcclusionImage& o, const std::vector<double>& conf, const OcclusionLayout& l,
                               const OcclusionConfig& config, const ImageShape& shape, double* extent) {
  const int w = shape.width;
  std::vector<float> sum(static_cast<std::size_t>(shape.height) * w, 0.0f), cover(sum.size(), 0.0f);
  std::size_t at = 1;
  for (int y : l.ys)
    for (int x : l.xs) {
      const double d = conf[0] - conf[at++];
      o.drops.push_back(d);
      for (int yy = y; yy < y + config.patch; ++yy)
        for (int xx = x; xx < x + config.patch; ++xx) {
          sum[static_cast<std::size_t>(yy) * w + xx] += static_cast<float>(d);
          cover[static_cast<std::size_t>(yy) * w + xx] += 1.0f;
        }
    }
  for (std::size_t p = 0; p < sum.size(); ++p) sum[p] = cover[p] > 0 ? sum[p] / cover[p] : 0.0f;
  o.max_drop = *std::max_element(o.drops.begin(), o.drops.end());
  double total = 0;
  *extent = 1e-6;
  for (double d : o.drops) {
    total += d;
    *extent = std::max(*extent, std::abs(d));
  }
  o.mean_drop = total / static_cast<double>(o.drops.size());
  for (std::size_t k = 0; k < config.fractions.size(); ++k) {
    o.filled.emplace_back(conf.begin() + static_cast<std::ptrdiff_t>(at),
                          conf.begin() + static_cast<std::ptrdiff_t>(at + config.masks));
    at += static_cast<std::size_t>(config.masks);
    o.filled_median.push_back(median(o.filled.back()));
  }
  return sum;
}

}  // namespace

OcclusionResult analyze_occlusion(const std::string& run_dir, OcclusionConfig config, const RunEvents& events) {
  check_occlusion_config(config);
  LoadedRun run = load_run(run_dir, config.model);
  const RunLock lock = lock_for_analysis(run_dir, run, "occlusion.json", "_occlusion");
  const OcclusionLayout layout = occlusion_layout(config, run.shape);
  const std::string task = "analyze occlusion";
  OcclusionResult result;
  result.run_dir = run_dir;
  std::vector<std::pair<std::string, Image8>> pngs;
  const std::size_t n = run.summary.classes.size();
  for (std::size_t i = 0; i < n; ++i) {
    const ClassSummary& c = run.summary.classes[i];
    const std::vector<double> conf =
        confidences(run, occlusion_variants(run.images[i], c.index, layout, config), c.index);
    OcclusionImage o;
    o.class_index = c.index;
    o.label = c.label;
    o.image = c.image;
    o.heatmap = image_name(c.image, "_occlusion");
    o.confidence = conf[0];
    o.positions_y = static_cast<int>(layout.ys.size());
    o.positions_x = static_cast<int>(layout.xs.size());
    double extent = 0;
    const std::vector<float> map = sensitivity(o, conf, layout, config, run.shape, &extent);
    pngs.emplace_back(o.heatmap, occlusion_heatmap(map, run.shape.height, run.shape.width, extent));
    result.images.push_back(std::move(o));
    events.progress({task, i + 1, n, "class " + std::to_string(c.index), nullptr});
  }
  result.config = config;
  write_pngs(run_dir, pngs);
  const nlohmann::json j = result.to_json();
  write_json(run_dir, "occlusion.json", j);
  events.finish(task, "median confidence " + std::to_string(j["median_confidence"].get<double>()));
  return result;
}

}  // namespace fool
