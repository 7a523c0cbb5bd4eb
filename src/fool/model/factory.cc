// load_classifier: one ONNX file -> the backend that runs it. Feeds models with a fixed batch axis
// in chunks of their size, and for --backend auto loads both backends, runs each on a probe batch,
// and keeps the faster of those that run the model and agree.
#include "fool/model/factory.h"
#include "fool/model/checked_output.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "fool/core/error.h"
#include "fool/core/rng.h"
#include "fool/core/limits.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/opencv/opencv_classifier.h"
#include "fool/model/torch/torch_classifier.h"

namespace fool {
namespace {

// Splits a batch into calls of exactly spec().fixed_batch images, padding the last call with
// copies of its first image (rows are scored independently, so the padding does not change them).
template <class Base>
class FixedBatchClassifier : public Base {
 public:
  explicit FixedBatchClassifier(std::unique_ptr<Base> inner) : inner_(std::move(inner)) {}
  const ModelSpec& spec() const override { return inner_->spec(); }
  Backend backend() const override { return inner_->backend(); }

  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec(), images);
    const auto b = static_cast<std::size_t>(spec().fixed_batch);
    Matrix out(0, static_cast<std::size_t>(spec().num_classes));
    for (std::size_t begin = 0; begin < images.size(); begin += b) {
      const std::size_t end = std::min(images.size(), begin + b);
      const Matrix p = inner_->probabilities(padded(images, begin, end));
      out.append_rows(first_rows(p, end - begin));
    }
    return out;
  }

 protected:
  ImageBatch padded(const ImageBatch& images, std::size_t begin, std::size_t end) const {
    const auto b = static_cast<std::size_t>(spec().fixed_batch);
    ImageBatch chunk(b, images.shape());
    const std::size_t per = images.shape().size();
    for (std::size_t i = 0; i < b; ++i) {
      const std::size_t src = begin + i < end ? begin + i : begin;
      std::copy(images.image(src), images.image(src) + per, chunk.image(i));
    }
    return chunk;
  }
  static Matrix first_rows(const Matrix& m, std::size_t n) {
    Matrix r(n, m.cols());
    std::copy(m.data(), m.data() + n * m.cols(), r.data());
    return r;
  }
  std::unique_ptr<Base> inner_;
};

class FixedBatchDifferentiable : public FixedBatchClassifier<DifferentiableClassifier> {
 public:
  using FixedBatchClassifier<DifferentiableClassifier>::FixedBatchClassifier;
  Matrix probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                     ImageBatch* gradients) override {
    check_batch_shape(spec(), images);
    if (targets.size() != images.size()) throw Error("one target class is needed per image");
    const auto b = static_cast<std::size_t>(spec().fixed_batch);
    const std::size_t per = images.shape().size();
    Matrix out(0, static_cast<std::size_t>(spec().num_classes));
    *gradients = ImageBatch(images.size(), images.shape());
    for (std::size_t begin = 0; begin < images.size(); begin += b) {
      const std::size_t end = std::min(images.size(), begin + b);
      std::vector<int> t(b, targets[begin]);
      for (std::size_t i = begin; i < end; ++i) t[i - begin] = targets[i];
      ImageBatch g;
      const Matrix p = inner_->probabilities_and_gradients(padded(images, begin, end), t, &g);
      out.append_rows(first_rows(p, end - begin));
      std::copy(g.image(0), g.image(0) + (end - begin) * per, gradients->image(begin));
    }
    return out;
  }
};

std::unique_ptr<Classifier> with_fixed_batch(std::unique_ptr<Classifier> c) {
  c = with_checked_output(std::move(c));  // every backend's output checked (checked_output.h)
  if (c->spec().fixed_batch <= 0) return c;
  return std::make_unique<FixedBatchClassifier<Classifier>>(std::move(c));
}

std::unique_ptr<DifferentiableClassifier> with_fixed_batch(std::unique_ptr<DifferentiableClassifier> c) {
  c = with_checked_output(std::move(c));  // every backend's output checked (checked_output.h)
  if (c->spec().fixed_batch <= 0) return c;
  return std::make_unique<FixedBatchDifferentiable>(std::move(c));
}

std::unique_ptr<Classifier> make_backend(Backend b, const OnnxModel& model, const ClassifierOptions& options) {
  if (b == Backend::OpenCv) return with_fixed_batch(make_opencv_classifier(model, options));
  return with_fixed_batch(std::unique_ptr<DifferentiableClassifier>(make_torch_classifier(model.copy(), options)));
}

// A backend's error without the model path that starts it (the caller's line names the file).
std::string without_path(const std::string& message, const std::string& path) {
  if (message.rfind(path + ": ", 0) == 0) return message.substr(path.size() + 2);
  return message;
}

// A fast backend must beat the other by this factor to be chosen over OpenCV, so that two runs of
// the same command do not flip between backends whose probe times are close (results are
// byte-identical only for the same backend).
constexpr double kSpeedMargin = 1.25;

std::string ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", seconds * 1e3);
  return buf;
}

std::unique_ptr<Classifier> load_auto(const std::string& path, const ClassifierOptions& options, BackendChoice* choice) {
  const OnnxModel model = OnnxModel::load(path);
  const ModelSpec spec = model.spec(options.overrides);  // a model that is not an image classifier fails here
  // The probe: seeded uniform images, more than one (OpenCV 4.6 gets some graphs right only for
  // batches of one).
  const std::size_t n = spec.fixed_batch > 1 ? static_cast<std::size_t>(spec.fixed_batch) : 4;
  ImageBatch probe(n, spec.input);
  Rng rng(7);
  for (std::size_t i = 0; i < probe.size() * spec.input.size(); ++i) probe.data()[i] = static_cast<float>(rng.uniform());

  struct Candidate {
    Backend backend;
    std::unique_ptr<Classifier> classifier;
    Matrix output;
    double seconds = -1.0;
    std::string error;
  };
  std::vector<Candidate> c;
  for (Backend b : {Backend::OpenCv, Backend::Torch}) {
    Candidate k{b, nullptr, {}, -1.0, ""};
    try {
      k.classifier = make_backend(b, model, options);
      k.output = k.classifier->probabilities(probe);  // also warms the backend up
      for (std::size_t i = 0; i < k.output.rows() * k.output.cols(); ++i)
        if (!std::isfinite(k.output.data()[i])) throw Error("non-finite probabilities on the probe batch");
      const auto t0 = std::chrono::steady_clock::now();
      k.classifier->probabilities(probe);
      k.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } catch (const Error& e) {
      k.classifier.reset();
      k.error = without_path(e.what(), path);
    }
    c.push_back(std::move(k));
  }
  Candidate& cv = c[0];
  Candidate& th = c[1];
  BackendChoice ch;
  ch.opencv_error = cv.error;
  ch.torch_error = th.error;
  ch.opencv_seconds = cv.seconds;
  ch.torch_seconds = th.seconds;
  Candidate* pick = nullptr;
  if (!cv.classifier && !th.classifier) {
    throw Error(path + ": neither backend runs this model (opencv: " + cv.error + "; torch: " + th.error + ")");
  } else if (!th.classifier) {
    pick = &cv;
    ch.reason = "opencv: torch cannot run the model (" + th.error + ")";
  } else if (!cv.classifier) {
    pick = &th;
    ch.reason = "torch: opencv cannot run the model (" + cv.error + ")";
  } else {
    float worst = 0.0f;
    for (std::size_t i = 0; i < cv.output.rows() * cv.output.cols(); ++i)
      worst = std::max(worst, std::abs(cv.output.data()[i] - th.output.data()[i]));
    ch.max_difference = worst;
    if (!(worst <= kBackendTolerance)) {
      // The torch backend runs each ONNX node as the ATen operation that defines it; OpenCV's
      // importer is the one known to mis-compute some forms silently.
      pick = &th;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2g", worst);
      ch.reason = std::string("torch: opencv disagrees with it on the probe batch (max difference ") + buf + ")";
    } else if (!options.auto_compares_speed) {
      pick = &cv;
      ch.reason = "opencv: both agree on the probe batch (chosen without timing them)";
    } else if (th.seconds * kSpeedMargin < cv.seconds) {
      pick = &th;
      ch.reason = "torch: both agree on the probe batch and torch is faster";
    } else {
      pick = &cv;
      ch.reason = "opencv: both agree on the probe batch and torch is not faster";
    }
  }
  ch.backend = pick->backend;
  ch.detail = "probe batch of " + std::to_string(n) + ": opencv " +
              (cv.classifier ? ms(cv.seconds) : std::string("fails")) + ", torch " +
              (th.classifier ? ms(th.seconds) : std::string("fails"));
  if (choice) *choice = ch;
  return std::move(pick->classifier);
}

}  // namespace

std::unique_ptr<Classifier> load_classifier(const std::string& path, const ClassifierOptions& options,
                                            BackendChoice* choice) {
  check_threads(options.threads, "threads");
  if (options.backend == Backend::Auto) return load_auto(path, options, choice);
  OnnxModel model = OnnxModel::load(path);
  std::unique_ptr<Classifier> c;
  if (options.backend == Backend::OpenCv) {
    c = with_fixed_batch(make_opencv_classifier(model, options));
  } else {
    c = with_fixed_batch(std::unique_ptr<DifferentiableClassifier>(make_torch_classifier(std::move(model), options)));
  }
  if (choice) {
    *choice = BackendChoice{};
    choice->backend = options.backend;
    choice->reason = backend_name(options.backend) + ": asked for with --backend";
  }
  return c;
}

std::unique_ptr<DifferentiableClassifier> load_differentiable_classifier(const std::string& path,
                                                                         const ClassifierOptions& options) {
  check_threads(options.threads, "threads");
  return with_fixed_batch(make_torch_classifier(OnnxModel::load(path), options));
}

}  // namespace fool
