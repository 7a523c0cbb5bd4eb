#include "fool/model/factory.h"

#include "fool/core/limits.h"

#include "fool/model/onnx/onnx_model.h"
#include "fool/model/opencv/opencv_classifier.h"
#include "fool/model/torch/torch_classifier.h"

namespace fool {

std::unique_ptr<Classifier> load_classifier(const std::string& path, const ClassifierOptions& options) {
  check_threads(options.threads, "threads");
  OnnxModel model = OnnxModel::load(path);
  if (options.backend == Backend::OpenCv) return make_opencv_classifier(model, options);
  return make_torch_classifier(std::move(model), options);
}

std::unique_ptr<DifferentiableClassifier> load_differentiable_classifier(const std::string& path,
                                                                         const ClassifierOptions& options) {
  check_threads(options.threads, "threads");
  return make_torch_classifier(OnnxModel::load(path), options);
}

}  // namespace fool
