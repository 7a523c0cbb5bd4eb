#pragma once
// Loading a model: reads an ONNX file once and builds a registered backend (fool/model/registry.h)
// behind the Classifier interface; for Backend::Auto, probes every registered backend on a seeded
// batch and chooses among those that run the model and agree (compare_backends).
#include <memory>
#include <string>
#include <vector>

#include "fool/model/classifier.h"

namespace fool {

// One registered backend on the seeded probe batch.
struct BackendProbe {
  Backend backend = Backend::OpenCv;
  std::string name;
  // The timing batch (after a warm-up call): the best of `rounds`; -1: it did not run.
  double seconds = -1.0;
  // Each timed call, in CPU seconds of the process (every thread's user + system time), in order:
  // with timing, kTimingRounds calls interleaved with the other backends' (round r of every backend
  // before round r + 1 of any), else one.
  std::vector<double> rounds;
  std::string error;  // why it cannot run the model, without the model's path; "" if it runs
  int classes = 0;    // columns of its output; 0: it did not run
  // Largest difference of its probabilities to the chosen backend's on the probe batch; -1: not
  // compared (it did not run, or nothing was chosen).
  float max_difference = -1.0f;
  bool runs() const { return error.empty(); }
};

// What loading a model decided about its backend (for Backend::Auto: which one, and why).
struct BackendChoice {
  Backend backend = Backend::OpenCv;  // the backend that runs the model
  // One line without measurements (the same for every run of the same model and flags, so it can
  // go into summary.json): e.g. "torch: opencv cannot run the model (...)".
  std::string reason;
  // The probe's timings for every backend, one line (progress line and fool info); "" unless Auto.
  std::string detail;
  // Largest difference between the chosen backend and another that runs; -1: none compared.
  float max_difference = -1.0f;
  std::vector<BackendProbe> probes;  // every registered backend, in registry order; empty unless Auto
};

// Every registered backend run on the same seeded probe batch, and what --backend auto takes.
struct BackendComparison {
  std::size_t probe_images = 0;
  std::vector<BackendProbe> probes;  // in registry order; max_difference relative to the choice
  float max_difference = -1.0f;      // largest between any two backends that run; -1: fewer than two
  bool agree = false;                // at least two run and max_difference <= kBackendTolerance
  bool chosen = false;               // false: no backend runs the model (error says so)
  BackendChoice choice;              // what auto takes (when chosen)
  std::string error;                 // one line naming the file (when !chosen)
  // For a file that fixes its batch axis: whether fool feeds it any batch ("any: ...", checked on a
  // probe batch against the file's own form) or that many images a call, and why; "" otherwise.
  std::string batch;
};

// Largest difference between two backends' probabilities on the probe batch for which auto still
// takes them as agreeing.
inline constexpr float kBackendTolerance = 1e-4f;

// A backend must beat the most preferred agreeing one by this factor (best timed call against
// best timed call) to be chosen over it, so that two runs of the same command do not flip between
// backends whose times are close (results are byte-identical only for the same backend).
inline constexpr double kSpeedMargin = 1.25;
// Timed calls of each backend when auto compares speed, interleaved; a backend's time is its best.
inline constexpr int kTimingRounds = 3;

// Auto's speed rule (docs/design.md, "Choosing a backend"): whether `candidate` is clearly faster
// than `preferred`: both ran and the candidate's best timed call, times kSpeedMargin, is shorter
// than the preferred one's best.
bool clearly_faster(const BackendProbe& candidate, const BackendProbe& preferred);

// Loads the model with every registered backend, scores a seeded probe batch (4 images, or the
// model's fixed batch) with each, and applies auto's rules (docs/design.md, "Choosing a backend"):
// of the backends that run, those that disagree with the reference backend are dropped; of the
// rest the most preferred one is taken unless another is clearly_faster (timing only if
// options.auto_compares_speed: three interleaved calls of each, its best kept). Throws fool::Error only for a file that
// is not a usable model.
BackendComparison compare_backends(const std::string& path, const ClassifierOptions& options);

// Reads the ONNX file once and builds the chosen backend (for Auto, see compare_backends; *choice,
// if given, receives the decision). A model whose file fixes the batch axis takes any batch when
// the backend gives the same scores that way on a probe batch; else it is fed chunks of that size.
// Throws fool::Error for a missing, corrupt or non-image model, naming the file.
std::unique_ptr<Classifier> load_classifier(const std::string& path, const ClassifierOptions& options,
                                            BackendChoice* choice = nullptr);
// The spec of a model file (ONNX, or TorchScript through the torch backend) as load_classifier sees
// it with these overrides; throws fool::Error naming the file.
ModelSpec describe_model(const std::string& path, const SpecOverrides& overrides);

// The same with input gradients: options.backend must give them (Auto: the first registered
// backend that does). Throws fool::Error naming the backend otherwise.
std::unique_ptr<DifferentiableClassifier> load_differentiable_classifier(const std::string& path,
                                                                         const ClassifierOptions& options);

}  // namespace fool
