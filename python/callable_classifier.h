#pragma once
// A Python callable as a fool::Classifier (fool.CallableClassifier), and how its callbacks' Python
// exceptions travel through the library to the binding that re-raises them.
#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fool/model/classifier.h"
#include "numpy_convert.h"

namespace fool::python {

namespace py = pybind11;

// Thrown through the library when a Python callback raised; the Python exception itself waits in
// a PythonFailure until the binding has the GIL again and re-raises it.
class CallbackFailed : public std::runtime_error {
 public:
  CallbackFailed() : std::runtime_error("a Python callback raised an exception") {}
};

// The first Python exception of a run's callbacks. Read and written with the GIL held.
struct PythonFailure {
  std::optional<py::error_already_set> error;
};

// A Python callable as a fool classifier. `score(x)` gets N x C x H x W float32 in [0,1] and
// returns checked N x K float32 probabilities; `gradients(x, targets)` (None: not differentiable)
// returns (probabilities, N x C x H x W gradients of p[i][targets[i]]). python/fool/__init__.py
// wraps the user's callable into these two, with the checks that name what it returned.
class CallableClassifier : public DifferentiableClassifier {
 public:
  CallableClassifier(py::object score, py::object gradients, ImageShape shape, std::vector<std::string> labels,
                     std::string name, bool logits)
      : score_(std::move(score)), gradients_(std::move(gradients)) {
    spec_.path = std::move(name);
    spec_.input_name = "x";
    spec_.output_name = logits ? "logits" : "probabilities";
    spec_.input = shape;
    spec_.num_classes = static_cast<int>(labels.size());
    spec_.labels = std::move(labels);
    spec_.preprocessing.output_is_probabilities = !logits;
    spec_.producer = "python";
  }
  ~CallableClassifier() override {
    py::gil_scoped_acquire gil;
    score_ = py::object();
    gradients_ = py::object();
  }
  const ModelSpec& spec() const override { return spec_; }
  Backend backend() const override { return Backend::Auto; }  // none of fool's backends runs it
  bool differentiable() const { return !gradients_.is_none(); }

  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec_, images);
    py::gil_scoped_acquire gil;
    if (failure_->error) throw CallbackFailed();
    try {
      return numpy_to_matrix(score_(batch_to_numpy(images)).cast<FloatArray>());
    } catch (py::error_already_set& e) {
      failure_->error = e;
      throw CallbackFailed();
    }
  }

  Matrix probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                     ImageBatch* gradients) override {
    check_batch_shape(spec_, images);
    py::gil_scoped_acquire gil;
    if (failure_->error) throw CallbackFailed();
    if (gradients_.is_none()) throw Error(spec_.path + " gives no gradients");
    try {
      py::tuple r = gradients_(batch_to_numpy(images), py::cast(targets));
      Matrix p = numpy_to_matrix(r[0].cast<FloatArray>());
      *gradients = numpy_to_batch(r[1].cast<FloatArray>());
      return p;
    } catch (py::error_already_set& e) {
      failure_->error = e;
      throw CallbackFailed();
    }
  }

  // Starts a run: forgets an earlier run's failure. Returns the record of this run's.
  std::shared_ptr<PythonFailure> begin_run() {
    failure_ = std::make_shared<PythonFailure>();
    return failure_;
  }

 private:
  py::object score_, gradients_;
  ModelSpec spec_;
  std::shared_ptr<PythonFailure> failure_ = std::make_shared<PythonFailure>();
};

}  // namespace fool::python
