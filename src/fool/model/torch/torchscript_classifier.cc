// TorchScript files on libtorch: make_torchscript_classifier, which load_torchscript_classifier
// (torch_backend.cc) reaches through torch_api().
#include <torch/script.h>
#include <torch/torch.h>

#include <regex>
#include <sstream>

#include "fool/core/bytes.h"
#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/io/files.h"
#include "fool/model/torch/torch_api.h"
#include "fool/model/torch/torchscript_classifier.h"

namespace fool {

namespace {

// c10's message for a file from a newer PyTorch, as one line naming both versions.
std::string load_error(const std::string& path, const c10::Error& e) {
  const std::string what = e.what_without_backtrace();
  std::smatch m;
  static const std::regex newer(R"(version (\d+), but the maximum supported version for reading is (\d+))");
  if (std::regex_search(what, m, newer)) {
    return path + ": TorchScript file format version " + m[1].str() +
           " comes from a newer PyTorch; this fool's libtorch " + TORCH_VERSION + " reads up to version " + m[2].str() +
           " (save it with PyTorch " + TORCH_VERSION + ", or export it to ONNX)";
  }
  return path + ": not a TorchScript file libtorch " + TORCH_VERSION + " can load (" +
         json_check::printable(what, 200) + ")";
}

at::Tensor first_output(const c10::IValue& v, const std::string& path) {
  if (v.isTensor()) return v.toTensor();
  if (v.isTuple() && !v.toTuple()->elements().empty() && v.toTuple()->elements()[0].isTensor()) {
    return v.toTuple()->elements()[0].toTensor();
  }
  throw Error(path + ": the module's forward returns no tensor (fool reads one N x K tensor, or a tuple's first)");
}

class TorchScriptClassifier : public DifferentiableClassifier {
 public:
  TorchScriptClassifier(const std::string& path, const ClassifierOptions& options) : threads_(options.threads) {
    const auto bytes = read_file(path);
    spec_.path = path;
    spec_.sha256 = sha256_hex(bytes.data(), bytes.size());
    spec_.producer = std::string("TorchScript (libtorch ") + TORCH_VERSION + ")";
    spec_.forms.format = "torchscript";
    spec_.forms.input_size_origin = "--input-size";
    spec_.input_name = "input";
    spec_.output_name = "output";
    const auto& ov = options.overrides;
    if (ov.layout && *ov.layout != InputLayout::Nchw)
      throw Error(path + ": a TorchScript model takes N x C x H x W input");
    if (!ov.output.empty() && ov.output != spec_.output_name) {
      throw Error(path + ": no output '" + ov.output +
                  "' (a TorchScript model has one: its forward's, named 'output')");
    }
    try {
      std::istringstream in(std::string(bytes.begin(), bytes.end()));
      module_ = torch::jit::load(in, torch::kCPU);
    } catch (const c10::Error& e) {
      throw Error(load_error(path, e));
    }
    module_.eval();
    int channels = 0;
    for (const auto& p : module_.parameters())
      if (channels == 0 && p.dim() == 4) channels = static_cast<int>(p.size(1));
    if (channels != 1 && channels != 3) {
      throw Error(path + ": cannot tell the input's channels from the module's first convolution (found " +
                  std::to_string(channels) + "); fool needs a 1- or 3-channel image model");
    }
    if (!ov.input_size)
      throw Error(path + ": a TorchScript file does not record its input size; give --input-size HxW");
    spec_.input = {channels, ov.input_size->first, ov.input_size->second};
    // The class count and output form from a probe batch of two mid-gray images.
    at::Tensor probe;
    try {
      c10::InferenceMode guard;
      probe =
          first_output(module_.forward({at::full({2, channels, spec_.input.height, spec_.input.width}, 0.5f)}), path);
    } catch (const c10::Error& e) {
      throw Error(path + ": the module fails on a " + spec_.input.str() + " input (" +
                  json_check::printable(e.what_without_backtrace(), 200) + ")");
    }
    probe = probe.reshape({2, -1}).to(at::kFloat);
    spec_.num_classes = static_cast<int>(probe.size(1));
    const bool sums_to_one =
        (probe.min().item<float>() >= 0.0f) && (probe.sum(1) - 1.0f).abs().max().item<float>() < 1e-3f;
    spec_.preprocessing.output_is_probabilities = sums_to_one;
    spec_.origin.output = sums_to_one ? "probe (rows sum to 1)" : "probe (rows do not sum to 1)";
    if (ov.labels) {
      if (static_cast<int>(ov.labels->size()) != spec_.num_classes) {
        throw Error(path + ": " + std::to_string(ov.labels->size()) + " labels for a model with " +
                    std::to_string(spec_.num_classes) + " classes");
      }
      spec_.labels = *ov.labels;
    } else {
      for (int k = 0; k < spec_.num_classes; ++k) spec_.labels.push_back(std::to_string(k));
    }
    try {
      apply_overrides(ov, channels, &spec_.preprocessing, &spec_.origin);
    } catch (const Error& e) {
      throw Error(path + ": " + e.what());
    }
    spec_.warnings = assumption_warnings(spec_);
    const auto& pre = spec_.preprocessing;
    const ChannelAffine affine = channel_affine(pre, channels);
    scale_ = at::tensor(affine.scale).view({1, channels, 1, 1});
    shift_ = at::tensor(affine.shift).view({1, channels, 1, 1});
    flip_ = channels == 3 && pre.channel_order == ChannelOrder::Bgr;
  }

  const ModelSpec& spec() const override { return spec_; }
  Backend backend() const override { return torchscript_backend(); }

  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec_, images);
    c10::InferenceMode guard;
    const at::Tensor p = to_probabilities(scores(tensor_of(images))).contiguous();
    return to_matrix(p);
  }

  Matrix probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                     ImageBatch* gradients) override {
    return with_gradients(images, targets, gradients, false);
  }
  Matrix log_probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                         ImageBatch* gradients) override {
    return with_gradients(images, targets, gradients, true);
  }

 private:
  Matrix with_gradients(const ImageBatch& images, const std::vector<int>& targets, ImageBatch* gradients, bool log) {
    check_gradient_request(spec_, images, targets);
    at::Tensor x = tensor_of(images).clone().requires_grad_(true);
    const at::Tensor s = scores(x);
    at::Tensor out;
    if (log) {
      out = spec_.preprocessing.output_is_probabilities ? s.log() : at::log_softmax(s, 1);
    } else {
      out = to_probabilities(s);
    }
    std::vector<std::int64_t> idx(targets.begin(), targets.end());
    const at::Tensor chosen = out.gather(1, at::tensor(idx, at::kLong).view({-1, 1})).sum();
    const auto grads = torch::autograd::grad({chosen}, {x});
    *gradients = ImageBatch(images.size(), images.shape());
    const at::Tensor g = grads[0].contiguous();
    std::copy(g.data_ptr<float>(), g.data_ptr<float>() + g.numel(), gradients->data());
    return to_matrix(out.detach().contiguous());
  }

  at::Tensor tensor_of(const ImageBatch& images) const {
    return at::from_blob(
        const_cast<float*>(images.data()),
        {static_cast<std::int64_t>(images.size()), spec_.input.channels, spec_.input.height, spec_.input.width},
        at::kFloat);
  }

  // [0,1] images -> the module's N x K scores (float).
  at::Tensor scores(const at::Tensor& images) {
    if (threads_ > 0) at::set_num_threads(threads_);
    at::Tensor x = images;
    if (flip_) x = x.flip({1});
    x = x * scale_ + shift_;
    try {
      return first_output(module_.forward({x}), spec_.path).reshape({images.size(0), -1}).to(at::kFloat);
    } catch (const c10::Error& e) {
      throw Error(spec_.path + ": the TorchScript module failed (" +
                  json_check::printable(e.what_without_backtrace(), 300) + ")");
    }
  }

  at::Tensor to_probabilities(const at::Tensor& s) const {
    return spec_.preprocessing.output_is_probabilities ? s : at::softmax(s, 1);
  }

  Matrix to_matrix(const at::Tensor& p) const {
    Matrix m(static_cast<std::size_t>(p.size(0)), static_cast<std::size_t>(p.size(1)));
    std::copy(p.data_ptr<float>(), p.data_ptr<float>() + p.numel(), m.data());
    return m;
  }

  torch::jit::Module module_;
  ModelSpec spec_;
  at::Tensor scale_, shift_;
  bool flip_ = false;
  int threads_ = 0;
};

}  // namespace

std::unique_ptr<DifferentiableClassifier> make_torchscript_classifier(const std::string& path,
                                                                      const ClassifierOptions& options) {
  return std::make_unique<TorchScriptClassifier>(path, options);
}

}  // namespace fool
