#pragma once
// Gradient ascent on the input (the paper's white-box method): start from a gray or mean image
// plus a little noise, step along the gradient of the target class's probability with a step sized
// so that the first-order predicted gain is min(max_gain, gain_fraction * (1 - p)), decay toward
// the mean image, blur now and then, clamp to [0,1]. Where a step lowers the probability (it
// overshot), that class's later steps are halved until they pay off again. Each class reports
// the best image it showed. All target classes ascend together, one
// batched forward and backward pass per step.
#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fool/core/run_events.h"
#include "fool/model/classifier.h"
#include "fool/search/class_result.h"

namespace fool {

// The image gradient ascent starts from: mid-gray (0.5), the model's mean image, or uniform noise.
enum class AscentStart { Gray, Mean, Noise };
const std::string& ascent_start_name(AscentStart start);  // "gray" | "mean" | "noise"
AscentStart parse_ascent_start(const std::string& name);
const std::vector<std::string>& ascent_start_names();

struct AscentConfig {
  std::vector<int> classes;  // empty: all
  int steps = 500;
  std::uint64_t seed = 1;
  AscentStart start = AscentStart::Gray;
  double start_noise = 0.01;  // std of the Gaussian noise added to a gray or mean start
  double max_gain = 0.03;     // the step aims for a predicted gain of min(max_gain, gain_fraction * (1 - p))
  double gain_fraction = 0.1;
  double decay = 0.0;              // each step: x <- mean + (1 - decay) * (x - mean)
  double blur_sigma = 0.0;         // Gaussian blur of this sigma (pixels) ...
  int blur_every = 0;              // ... every this many steps (0: never)
  double target = 0.9999;          // a class stops once its 8-bit image scores at least this (0: never stop)
  void validate(int num_classes);  // fills classes; throws fool::Error on nonsense
};

struct AscentStepStats {
  int step = 0;
  double min = 0, median = 0, max = 0;  // target probabilities of the classes
  std::size_t at_99 = 0, at_999 = 0, at_9999 = 0;
  std::size_t active = 0;         // classes still ascending
  double seconds = 0;             // total so far
  nlohmann::json record() const;  // one line of log.jsonl
  std::string status() const;     // the progress line's text
};

struct AscentOutcome {
  std::vector<ClassResult> classes;  // images, search confidences, first steps at 0.99/0.999/0.9999
  std::vector<std::string> errors;   // one line per class stopped by a NaN
  std::vector<std::string> stalled;  // one line per class that stalled below the target (then complete is false)
  int steps = 0;                     // steps run (the longest class)
  std::size_t evaluations = 0;       // image forward+backward passes
  double seconds = 0;
  bool complete = true;      // all steps ran (not interrupted) and no class stalled
  bool interrupted = false;  // stopped by the caller (Ctrl-C)
};

// Runs the ascent. `classifier` is the differentiable model; images are of its input shape.
// Told after every step: the step just done and a way to get the current images (ClassResult per
// class, as run_ascent returns them), which costs a render, so a watcher calls it only when it wants
// pictures (the live view).
using AscentWatch = std::function<void(int step, const std::function<std::vector<ClassResult>()>& current)>;
AscentOutcome run_ascent(DifferentiableClassifier& classifier, AscentConfig config, const RunEvents& events = {},
                         const std::atomic<bool>* stop = nullptr, const AscentWatch& watch = {});

// Separable Gaussian blur of one C x H x W image in place (edges replicated).
void gaussian_blur(float* chw, const ImageShape& shape, double sigma);

}  // namespace fool
