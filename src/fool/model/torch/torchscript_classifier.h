#pragma once
// TorchScript files (torch.jit.trace(...).save / torch.jit.script(...).save, for the libtorch
// version fool links) as a differentiable classifier on the torch backend. A TorchScript file does
// not record its input size, so --input-size HxW is required; the channel count is read from the
// first 4-D weight, the class count and whether it outputs probabilities from a probe batch.
#include <memory>
#include <string>

#include "fool/model/classifier.h"

namespace fool {

// The backend that runs TorchScript files: torch, alone.
inline Backend torchscript_backend() { return Backend("torch"); }

// True for a file that starts as TorchScript's zip container does (ONNX files never do).
bool is_torchscript_file(const std::string& path);

// Loads the module; throws fool::Error naming the file (a file from a newer PyTorch: the versions).
std::unique_ptr<DifferentiableClassifier> load_torchscript_classifier(const std::string& path,
                                                                      const ClassifierOptions& options);

}  // namespace fool
