#pragma once
// The torch code's entry points as one table, so that a process can load libtorch only when it
// uses it. Everything that needs libtorch (the torch backend, TorchScript files, training) is
// reached through torch_api(); the registration, is_torchscript_file and the public functions
// load_torchscript_classifier and train_classifier are torch-free forwarders (torch_backend.cc,
// train/train.cc).
//
// Two definitions of torch_api(), chosen when an executable is linked (fool_lazy_torch in
// cmake/FoolTargets.cmake):
// - direct (torch_api_direct.cc, in fool_model_torch): the torch code is linked in, libtorch is
//   loaded at start. Tests, the Python module and find_package(fool) users get this one.
// - loaded (torch_loader.cc, in fool_torch_loader): the torch code is the module libfool_torch.so,
//   opened with dlopen on the first call. The fool CLI and bench_runtime get this one; their fool
//   code is exported to the module (ENABLE_EXPORTS), so that a process holds one copy of it.
#include <memory>
#include <string>

#include "fool/core/run_events.h"
#include "fool/io/dataset.h"
#include "fool/model/classifier.h"
#include "fool/train/train.h"

namespace fool {

class OnnxModel;

struct TorchApi {
  // The torch backend's classifier of an ONNX model (torch_classifier.cc).
  std::unique_ptr<DifferentiableClassifier> (*make_classifier)(OnnxModel model, const ClassifierOptions& options);
  // A TorchScript file as a classifier (torchscript_classifier.cc).
  std::unique_ptr<DifferentiableClassifier> (*load_torchscript)(const std::string& path,
                                                                const ClassifierOptions& options);
  // train_classifier's work, after its options were validated (train/train_torch.cc).
  TrainResult (*train)(const DatasetSplits& data, const TrainOptions& options, const std::string& out_path,
                       const RunEvents& events);
};

// The table; throws fool::Error (one line naming the library's path) where the module cannot be
// loaded.
const TorchApi& torch_api();

// The implementations the table holds.
std::unique_ptr<DifferentiableClassifier> make_torchscript_classifier(const std::string& path,
                                                                      const ClassifierOptions& options);
TrainResult train_torch_classifier(const DatasetSplits& data, const TrainOptions& options, const std::string& out_path,
                                   const RunEvents& events);

}  // namespace fool

// The table of the torch code (torch_api.cc): the one symbol the loader looks up in the module.
extern "C" const fool::TorchApi* fool_torch_api();
