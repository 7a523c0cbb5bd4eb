// OpenCvClassifier: the fast inference backend (OpenCV DNN), fed the simplified ONNX graph.
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include "fool/model/classifier.h"
#include "fool/core/error.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/opencv/opencv_classifier.h"

namespace fool {
namespace {

class OpenCvClassifier : public Classifier {
 public:
  OpenCvClassifier(const OnnxModel& model, const ClassifierOptions& options) : spec_(model.spec(options.overrides)) {
    // OpenCV's importer logs its own failures to stderr; fool reports them as one-line errors.
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    if (options.threads > 0) cv::setNumThreads(options.threads);
    const std::string bytes = model.simplified_for_opencv();
    try {
      net_ = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
    } catch (const cv::Exception& e) {
      throw Error(model.path() + ": OpenCV DNN cannot load this model (" + first_line(e.what()) + ")");
    }
    if (net_.empty()) throw Error(model.path() + ": OpenCV DNN cannot load this model");
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  }

  const ModelSpec& spec() const override { return spec_; }
  Backend backend() const override { return Backend::OpenCv; }

  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec_, images);
    const int n = static_cast<int>(images.size());
    if (n == 0) return Matrix(0, static_cast<std::size_t>(spec_.num_classes));
    const int dims[4] = {n, spec_.input.channels, spec_.input.height, spec_.input.width};
    blob_.create(4, dims, CV_32F);
    const std::size_t per = spec_.input.size();
    auto* dst = reinterpret_cast<float*>(blob_.data);
    for (int i = 0; i < n; ++i) preprocess_image(spec_.preprocessing, spec_.input, images.image(i), dst + i * per);
    cv::Mat out;
    try {
      net_.setInput(blob_);
      out = net_.forward();
    } catch (const cv::Exception& e) {
      throw Error(spec_.path + ": OpenCV DNN forward pass failed (" + first_line(e.what()) + ")");
    }
    const std::size_t k = out.total() / static_cast<std::size_t>(n);
    if (k != static_cast<std::size_t>(spec_.num_classes)) {
      throw Error(spec_.path + ": model produced " + std::to_string(k) + " scores per image, expected " +
                  std::to_string(spec_.num_classes));
    }
    Matrix m(static_cast<std::size_t>(n), k);
    const cv::Mat flat = out.isContinuous() ? out : out.clone();
    std::copy(flat.ptr<float>(), flat.ptr<float>() + m.rows() * k, m.data());
    if (!spec_.preprocessing.output_is_probabilities) softmax_rows(m);
    return m;
  }

 private:
  static std::string first_line(const std::string& s) {
    std::string t = s.substr(0, s.find('\n'));
    // OpenCV messages end in the failing expression; keep them short.
    return t.size() > 300 ? t.substr(0, 300) : t;
  }

  ModelSpec spec_;
  cv::dnn::Net net_;
  cv::Mat blob_;
};

}  // namespace

std::unique_ptr<Classifier> make_opencv_classifier(const OnnxModel& model, const ClassifierOptions& options) {
  return std::make_unique<OpenCvClassifier>(model, options);
}

// Bare OpenCV DNN forward pass on a ready blob: the benchmarks' reference.
struct BareOpenCvNet::Impl {
  cv::dnn::Net net;
};

BareOpenCvNet::BareOpenCvNet(const std::string& path) : impl_(std::make_unique<Impl>()) {
  const OnnxModel model = OnnxModel::load(path);
  const std::string bytes = model.simplified_for_opencv();
  impl_->net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
  impl_->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  impl_->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
}
BareOpenCvNet::~BareOpenCvNet() = default;

void BareOpenCvNet::forward(const float* nchw, int n, const ImageShape& shape) {
  const int dims[4] = {n, shape.channels, shape.height, shape.width};
  cv::Mat blob(4, dims, CV_32F, const_cast<float*>(nchw));
  impl_->net.setInput(blob);
  cv::Mat out = impl_->net.forward();
  (void)out;
}

}  // namespace fool
