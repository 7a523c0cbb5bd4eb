#include "fool/model/checked_output.h"

#include <cmath>
#include <cstdio>

#include "fool/core/error.h"

namespace fool {

namespace {

std::string shown(float v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.7g", static_cast<double>(v));
  return buf;
}

template <class Base>
class CheckedOutput : public Base {
 public:
  explicit CheckedOutput(std::unique_ptr<Base> inner) : inner_(std::move(inner)) {}
  const ModelSpec& spec() const override { return inner_->spec(); }
  Backend backend() const override { return inner_->backend(); }
  Matrix probabilities(const ImageBatch& images) override {
    Matrix m = inner_->probabilities(images);
    check_probabilities(spec(), m);
    return m;
  }

 protected:
  std::unique_ptr<Base> inner_;
};

// Gradient ascent checks each row itself (run_ascent): a NaN or infinity stops only that image's
// class, with its own line, and the others go on; so probabilities_and_gradients passes through, and
// only probabilities() (what results and summaries are scored with) is checked.
class CheckedDifferentiable : public CheckedOutput<DifferentiableClassifier> {
 public:
  using CheckedOutput<DifferentiableClassifier>::CheckedOutput;
  Matrix probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                     ImageBatch* gradients) override {
    return inner_->probabilities_and_gradients(images, targets, gradients);
  }
  Matrix log_probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                         ImageBatch* gradients) override {
    return inner_->log_probabilities_and_gradients(images, targets, gradients);
  }
};

}  // namespace

void check_probabilities(const ModelSpec& spec, const Matrix& m) {
  const bool says_probabilities = spec.preprocessing.output_is_probabilities;
  for (std::size_t r = 0; r < m.rows(); ++r) {
    const float* row = m.row(r);
    double sum = 0.0;
    for (std::size_t k = 0; k < m.cols(); ++k) {
      const float v = row[k];
      sum += v;
      const bool finite = std::isfinite(v);
      if (finite && (!says_probabilities || (v >= -kProbabilityTolerance && v <= 1.0 + kProbabilityTolerance)))
        continue;
      const std::string where =
          spec.path + ": output [image " + std::to_string(r) + ", class " + std::to_string(k) + "] is " + shown(v);
      throw Error(where +
                  (finite ? ", not a probability (--logits if the model gives logits)" : ", not a probability"));
    }
    // A distribution over the classes: values that each look like probabilities but do not add up
    // to 1 (x / x, a sigmoid per class) are no softmax output either.
    if (says_probabilities && m.cols() > 0 && std::abs(sum - 1.0) > kProbabilitySumTolerance) {
      throw Error(spec.path + ": the outputs of image " + std::to_string(r) + " add up to " +
                  shown(static_cast<float>(sum)) + ", not 1: not probabilities (--logits if the model gives logits)");
    }
  }
}

std::unique_ptr<Classifier> with_checked_output(std::unique_ptr<Classifier> inner) {
  return std::make_unique<CheckedOutput<Classifier>>(std::move(inner));
}

std::unique_ptr<DifferentiableClassifier> with_checked_output(std::unique_ptr<DifferentiableClassifier> inner) {
  return std::make_unique<CheckedDifferentiable>(std::move(inner));
}

}  // namespace fool
