#pragma once
// Analyses of a finished run's champions (the paper's Section 3.2 observations): whether an image
// repeats a motif and how much each repeated copy adds to the confidence (repetition), and which
// parts of an image the confidence depends on (occlusion). Both read a run directory (summary.json
// and its PNGs), score with the run's own model, backend and crop setting, and write their JSON
// (analysis/*.json) and PNGs into that directory.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/core/image.h"
#include "fool/core/run_events.h"
#include "fool/model/classifier.h"

namespace fool {

// How a run's model is found and run for an analysis.
struct AnalysisModelOptions {
  std::string model;    // empty: the run's own model (record.model)
  std::string backend;  // empty: the run's own backend
  int threads = 0;
  // Empty for the run's own model: it is fed as the run recorded (model_input); flags that
  // contradict the record are refused.
  SpecOverrides overrides;
  std::size_t chunk = 200;                             // images per call to the classifier
  std::function<void(const std::string&)> on_warning;  // ClassifierOptions::on_warning
};

// ---- repetition ----

// A motif's period along each axis, found from the image's normalised autocorrelation.
// A period of 0 on an axis: the image does not repeat along it.
struct Period {
  int dy = 0;
  int dx = 0;
  double correlation_y = 0.0;  // autocorrelation at (dy, 0), 0 if dy == 0
  double correlation_x = 0.0;  // autocorrelation at (0, dx), 0 if dx == 0
  bool repeats() const { return dy > 0 || dx > 0; }
};

struct RepetitionConfig {
  // A peak of the autocorrelation counts as a repetition when it reaches `threshold` and rises
  // at least `prominence` above the lowest value between the origin and it.
  double threshold = 0.6;
  double prominence = 0.2;
  int min_period = 2;  // pixels; shorter periods are texture, not a motif
  int max_steps = 32;  // most removal counts scored per image (each is one image to score)
  AnalysisModelOptions model;
};

// The Pearson correlation of a gray image (H x W floats, row-major) with itself shifted by
// (dy, dx) >= 0, over the overlapping region; 0 where either side is constant.
double shifted_correlation(const std::vector<float>& gray, int height, int width, int dy, int dx);

// Finds the period along each axis (up to half the image): of the shifts whose autocorrelation is a
// local maximum that reaches the threshold with the prominence asked for, the shortest within 0.1 of
// the strongest. `image` is C x H x W 8-bit;
// channels are averaged to gray.
Period find_period(const Image8& image, const RepetitionConfig& config);

// One tile of the grid a period lays over an image (anchored at the top-left corner), in pixels.
struct Tile {
  int top, left, height, width;
};
// The grid of copies for a period: cells of dy x dx (the whole height/width on an axis without a
// period), in raster order, the cells at the bottom and right edges possibly cut.
std::vector<Tile> period_tiles(const ImageShape& shape, const Period& period);

// The numbers of copies removed that are scored (see RepetitionImage::removed).
std::vector<int> removal_steps(int copies, int max_steps);

// Per channel mean of an image, 0..255.
std::vector<double> mean_colour(const Image8& image);
// Fills tiles of an image with a colour (one value per channel, 0..255).
void fill_tiles(Image8& image, const std::vector<Tile>& tiles, const std::vector<double>& colour);

struct RepetitionImage {
  int class_index = 0;
  std::string label;
  std::string image;  // relative to the run directory
  Period period;
  int copies = 1;  // tiles of the grid (1 when the image does not repeat)
  // removed[i] copies removed (ascending, from 0 to copies-1) gave confidences[i]: all copies at
  // i = 0, one copy left at the end. Every count when copies <= max_steps, else max_steps evenly
  // spaced counts and copies/2. Only {0} for an image that does not repeat.
  std::vector<int> removed;
  std::vector<double> confidences;
  double all_copies() const { return confidences.front(); }
  double half_copies() const;  // with ceil(copies/2) copies left
  double one_copy() const { return confidences.back(); }
  std::string one_copy_image;  // PNG with one copy left (relative), empty when it does not repeat
};

struct RepetitionResult {
  std::string run_dir;
  RepetitionConfig config;
  std::vector<RepetitionImage> images;
  nlohmann::json to_json() const;  // format "fool-repetition/1"
};

// Analyses every champion of a run and writes analysis/repetition.json and, for each image that
// repeats, images/class_<k>_one_copy.png. Throws fool::Error (one line, nothing written) for a
// run directory without summary.json or champions, or a model that cannot be loaded.
RepetitionResult analyze_repetition(const std::string& run_dir, const RepetitionConfig& config,
                                    const RunEvents& events = {});

// ---- occlusion ----

struct OcclusionConfig {
  int patch = 0;   // side of the square patch in pixels; 0: an eighth of the image side (at least 1)
  int stride = 0;  // 0: half the patch (at least 1)
  std::vector<double> fractions = {0.25, 0.5, 0.75};  // shares of the tiles filled
  int masks = 5;                                      // random masks per fraction; the median confidence is reported
  std::uint64_t seed = 1;
  AnalysisModelOptions model;
};

// The positions (top-left corners) of a patch slid with a stride over a side of `size` pixels,
// the last one flush with the edge so that every pixel is covered.
std::vector<int> patch_positions(int size, int patch, int stride);

// Heat map of a sensitivity map (H x W drops in confidence, row-major) as an RGB image: white
// for no change, red for a drop, blue for a rise, full colour at |drop| = scale.
Image8 occlusion_heatmap(const std::vector<float>& drops, int height, int width, double scale);

struct OcclusionImage {
  int class_index = 0;
  std::string label;
  std::string image;        // relative to the run directory
  std::string heatmap;      // images/class_<k>_occlusion.png
  double confidence = 0.0;  // of the image as it is
  int positions_y = 0, positions_x = 0;
  std::vector<double> drops;  // positions_y x positions_x, row-major: confidence - occluded
  double max_drop = 0.0;      // the largest drop (the heat map's full colour)
  double mean_drop = 0.0;
  std::vector<double> filled_median;        // per fraction: median confidence over the masks
  std::vector<std::vector<double>> filled;  // per fraction, per mask
};

struct OcclusionResult {
  std::string run_dir;
  OcclusionConfig config;  // patch and stride resolved
  std::vector<OcclusionImage> images;
  nlohmann::json to_json() const;  // format "fool-occlusion/1"
};

// Analyses every champion of a run and writes analysis/occlusion.json and
// images/class_<k>_occlusion.png. Errors as analyze_repetition.
OcclusionResult analyze_occlusion(const std::string& run_dir, OcclusionConfig config, const RunEvents& events = {});

}  // namespace fool
