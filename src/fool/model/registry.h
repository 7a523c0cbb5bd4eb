#pragma once
// The backend registry: every backend fool can run a model on, one registration each, in order of
// preference. Loading (--backend NAME and auto), `fool info`, the CLI's --backend choices and the
// backend contract tests all read it; nothing else lists backends. Adding a backend: its folder
// under model/, whose CMakeLists.txt calls fool_backend(NAME TARGET target) and whose code defines
// `BackendRegistration NAME_backend_registration()`, and one add_subdirectory line in
// model/CMakeLists.txt (its place among those lines is its preference). The build generates the
// list registry.cc reads (backend_registrations.inc).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fool/model/classifier.h"

namespace fool {

class OnnxModel;

// One backend: its name (as on the command line and in summaries and checkpoints), how it loads a
// model that OnnxModel::load has read and validated, and what it gives.
struct BackendRegistration {
  std::string name;
  std::string description;  // one line: what it is and what it is good at
  // Builds the classifier; throws fool::Error (e.g. an operator it lacks). Takes the model over.
  std::function<std::unique_ptr<Classifier>(OnnxModel, const ClassifierOptions&)> load;
  // The same for input gradients; empty if the backend gives none.
  std::function<std::unique_ptr<DifferentiableClassifier>(OnnxModel, const ClassifierOptions&)> load_differentiable;
  // --backend auto trusts this backend's arithmetic: one that disagrees with it on the probe batch
  // is not chosen (see compare_backends in factory.h).
  bool reference = false;

  bool gives_gradients() const { return static_cast<bool>(load_differentiable); }
  Backend backend() const { return Backend(name); }
};

// Every registered backend, most preferred first.
const std::vector<BackendRegistration>& backend_registry();
// The registration of `backend` (not Auto); throws fool::Error naming it and the registered ones
// for a name without one.
const BackendRegistration& registered_backend(const Backend& backend);
// Whether a backend of this name is registered in this build (e.g. opencv: not where fool was
// built with -DFOOL_WITH_OPENCV=OFF).
bool backend_registered(const std::string& name);

}  // namespace fool
