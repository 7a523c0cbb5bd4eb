// OpenCvClassifier: the fast inference backend (OpenCV DNN), fed the simplified ONNX graph.
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include "fool/core/error.h"
#include "fool/model/classifier.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/opencv/opencv_classifier.h"
#include "fool/model/opencv/opencv_rewrites.h"
#include "fool/model/registry.h"

namespace fool {
namespace {

class OpenCvClassifier : public Classifier {
 public:
  OpenCvClassifier(const OnnxModel& model, const ClassifierOptions& options) : spec_(model.spec(options.overrides)) {
    // OpenCV's importer logs its own failures to stderr; fool reports them as one-line errors.
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    if (options.threads > 0) cv::setNumThreads(options.threads);
    refuse_large_expand(model);
    const std::string bytes = simplified_for_opencv(model, &input_ops_);
    try {
      net_ = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
    } catch (const cv::Exception& e) {
      throw Error(model.path() + ": OpenCV DNN cannot load this model (" + opencv_message(e.what()) + ")");
    }
    if (net_.empty()) throw Error(model.path() + ": OpenCV DNN cannot load this model");
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  }

  const ModelSpec& spec() const override { return spec_; }
  Backend backend() const override { return Backend("opencv"); }

  // OpenCV 4.6's importer and forward pass take time that grows faster than linearly in the copies an
  // Expand makes of its input (1,000 copies of a 28x28 image: about 1 s; 10,000: about a minute;
  // 100,000: no end seen), where torch takes well under a second. Refused here, so that auto picks torch.
  static constexpr std::uint64_t kMaxExpandRepeats = 1024;
  static void refuse_large_expand(const OnnxModel& model) {
    const ActivationEstimate e = model.activation_estimate();
    if (e.largest_expand_repeats > kMaxExpandRepeats) {
      throw Error(model.path() + ": Expand node " + e.largest_expand_node + " makes " +
                  std::to_string(e.largest_expand_repeats) +
                  " copies of its input; OpenCV DNN runs an Expand of more than " + std::to_string(kMaxExpandRepeats) +
                  " copies too slowly (--backend torch)");
    }
  }

  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec_, images);
    const int n = static_cast<int>(images.size());
    if (n == 0) return Matrix(0, static_cast<std::size_t>(spec_.num_classes));
    const int dims[4] = {n, spec_.input.channels, spec_.input.height, spec_.input.width};
    blob_.create(4, dims, CV_32F);
    const std::size_t per = spec_.input.size();
    auto* dst = reinterpret_cast<float*>(blob_.data);
    for (int i = 0; i < n; ++i) {
      float* x = dst + i * per;
      preprocess_image(spec_.preprocessing, spec_.input, images.image(i), x);
      for (const InputOp& op : input_ops_) apply_input_op(op, per, x);
    }
    cv::Mat out;
    try {
      net_.setInput(blob_);
      out = net_.forward();
    } catch (const cv::Exception& e) {
      throw Error(spec_.path + ": OpenCV DNN forward pass failed" + failing_layer() + " (" + opencv_message(e.what()) +
                  ")");
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
  // One folded "input <op> constant" node (simplified_for_opencv) applied to an image's `per` values.
  static void apply_input_op(const InputOp& op, std::size_t per, float* x) {
    const float* v = op.value.data();
    switch (op.op) {
      case '+':
        for (std::size_t j = 0; j < per; ++j) x[j] += v[j];
        break;
      case '-':
        for (std::size_t j = 0; j < per; ++j) x[j] -= v[j];
        break;
      case '*':
        for (std::size_t j = 0; j < per; ++j) x[j] *= v[j];
        break;
      default:
        for (std::size_t j = 0; j < per; ++j) x[j] /= v[j];
        break;
    }
  }
  // OpenCV's message on one line: its first line (the failed check) and the lines that name the
  // node (the importer's "Node [Op]:(name) parse error: ..."), without the source path prefix.
  static std::string opencv_message(const std::string& s) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start <= s.size()) {
      std::size_t end = s.find('\n', start);
      if (end == std::string::npos) end = s.size();
      std::string line = s.substr(start, end - start);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      const std::size_t first = line.find_first_not_of(" >");
      if (first != std::string::npos) lines.push_back(line.substr(first));
      start = end + 1;
    }
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const bool names_node = lines[i].find("Node [") != std::string::npos ||
                              lines[i].find("node") != std::string::npos || lines[i].find("layer") != std::string::npos;
      if (i == 0 || names_node) out += (out.empty() ? "" : " / ") + lines[i];
    }
    return out.size() > 400 ? out.substr(0, 400) : out;
  }

  // " at layer 'name'" for the first layer whose forward pass fails (found by running the net up
  // to layers in a binary search), or "" if no single layer can be blamed. Only on the error path.
  std::string failing_layer() {
    try {
      const std::vector<std::string> names = net_.getLayerNames();
      auto fails = [&](std::size_t i) {
        try {
          net_.setInput(blob_);
          net_.forward(names[i]);
          return false;
        } catch (const cv::Exception&) {
          return true;
        }
      };
      if (names.empty() || !fails(names.size() - 1)) return "";
      std::size_t lo = 0, hi = names.size() - 1;  // the first failing layer lies in [lo, hi]
      while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (fails(mid))
          hi = mid;
        else
          lo = mid + 1;
      }
      const int id = net_.getLayerId(names[lo]);
      const std::string type = net_.getLayer(id)->type;
      return " at node '" + names[lo] + "' (" + type + ")";
    } catch (const cv::Exception&) {
      return "";
    }
  }

  ModelSpec spec_;
  std::vector<InputOp> input_ops_;  // baked-in preprocessing folded out of the graph
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
  const std::string bytes = simplified_for_opencv(model);
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

// The registration (fool_backend in CMakeLists.txt): first in preference.
BackendRegistration opencv_backend_registration() {
  return {"opencv", "OpenCV's DNN module: fast batched inference, no gradients",
          [](OnnxModel m, const ClassifierOptions& o) { return make_opencv_classifier(m, o); }, nullptr, false};
}

}  // namespace fool
