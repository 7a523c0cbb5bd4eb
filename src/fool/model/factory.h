#pragma once
// The one place that knows every backend: reads an ONNX file once and builds the chosen backend
// behind the Classifier interface; for Backend::Auto, probes both and keeps the faster of those
// that run the model and agree.
#include <memory>
#include <string>

#include "fool/model/classifier.h"

namespace fool {

// What loading a model decided about its backend (for Backend::Auto: which one, and why not the other).
struct BackendChoice {
  Backend backend = Backend::OpenCv;  // the backend that runs the model
  // One line without measurements (the same for every run of the same model and flags, so it can
  // go into summary.json): e.g. "torch: opencv cannot run the model (...)".
  std::string reason;
  // The probe's timings for both backends, one line (progress line and fool info); "" unless Auto.
  std::string detail;
  float max_difference = -1.0f;                        // between the backends on the probe batch; -1: not compared
  double opencv_seconds = -1.0, torch_seconds = -1.0;  // one probe batch; -1: did not run
  std::string opencv_error, torch_error;               // why a backend was not usable ("" if it was)
};

// Largest difference between two backends' probabilities on the probe batch for which auto still
// takes them as agreeing.
inline constexpr float kBackendTolerance = 1e-4f;

// Reads the ONNX file once and builds the chosen backend (for Auto, see BackendChoice; *choice, if
// given, receives the decision). Models with a fixed batch axis are fed in chunks of that size.
// Throws fool::Error for a missing, corrupt or non-image model, naming the file.
std::unique_ptr<Classifier> load_classifier(const std::string& path, const ClassifierOptions& options,
                                            BackendChoice* choice = nullptr);
// The spec of a model file (ONNX, or TorchScript through the torch backend) as load_classifier sees
// it with these overrides; throws fool::Error naming the file.
ModelSpec describe_model(const std::string& path, const SpecOverrides& overrides);

std::unique_ptr<DifferentiableClassifier> load_differentiable_classifier(const std::string& path,
                                                                         const ClassifierOptions& options);

}  // namespace fool
