// TorchClassifier: the libtorch backend's classifier around the graph interpreter of
// torch_interpreter.h (which maps each ONNX node onto ATen operations): preprocessing on the
// tensor, probabilities and input gradients. Batches are split over threads that each run ATen
// single-threaded.
#include "fool/model/torch/torch_classifier.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <thread>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/torch/torch_interpreter.h"
#include "fool/model/torch/torch_ops.h"

namespace fool {
namespace {

using torch_internal::Interpreter;

// While alive (and asked to), OpenBLAS (ATen's BLAS for Gemm and MatMul in Debian's build) runs each
// call on its caller's thread: the batch workers' calls then proceed side by side instead of queueing
// for OpenBLAS's own thread pool. Restores the previous count; a no-op where the BLAS is not OpenBLAS.
class BlasThreadsForCall {
 public:
  explicit BlasThreadsForCall(bool single) {
    static const auto get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    static const auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    if (!single || !get || !set) return;
    set_ = set;
    previous_ = get();
    if (previous_ != 1) set_(1);
  }
  ~BlasThreadsForCall() {
    if (set_ && previous_ != 1) set_(previous_);
  }
  BlasThreadsForCall(const BlasThreadsForCall&) = delete;
  BlasThreadsForCall& operator=(const BlasThreadsForCall&) = delete;

 private:
  void (*set_)(int) = nullptr;
  int previous_ = 1;
};

class TorchClassifier : public DifferentiableClassifier {
 public:
  TorchClassifier(OnnxModel model, const ClassifierOptions& options)
      : model_(std::move(model)),
        spec_(model_.spec(options.overrides)),
        graph_(model_, spec_.input_name),
        threads_(options.threads) {
    const auto& pre = spec_.preprocessing;
    const auto c = spec_.input.channels;
    const ChannelAffine affine = channel_affine(pre, c);
    const std::vector<float>& a = affine.scale;
    const std::vector<float>& b = affine.shift;
    scale_ = at::tensor(a).view({1, c, 1, 1});
    shift_ = at::tensor(b).view({1, c, 1, 1});
    flip_ = c == 3 && pre.channel_order == ChannelOrder::Bgr;
    identity_ = std::all_of(a.begin(), a.end(), [](float v) { return v == 1.0f; }) &&
                std::all_of(b.begin(), b.end(), [](float v) { return v == 0.0f; });
  }

  const ModelSpec& spec() const override { return spec_; }
  Backend backend() const override { return Backend("torch"); }

  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec_, images);
    const std::size_t n = images.size();
    Matrix m(n, static_cast<std::size_t>(spec_.num_classes));
    split_batch(n, [&](std::size_t begin, std::size_t end) {
      c10::InferenceMode guard;
      at::Tensor p = forward(as_tensor(images, begin, end)).contiguous();
      std::copy(p.data_ptr<float>(), p.data_ptr<float>() + p.numel(), &m(begin, 0));
    });
    return m;
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
  // Probabilities and the gradient of p, or log-probabilities and the gradient of log p, at each
  // image's target class.
  Matrix with_gradients(const ImageBatch& images, const std::vector<int>& targets, ImageBatch* gradients, bool log) {
    check_gradient_request(spec_, images, targets);
    const std::size_t n = images.size();
    Matrix m(n, static_cast<std::size_t>(spec_.num_classes));
    *gradients = ImageBatch(n, images.shape());
    split_batch(n, [&](std::size_t begin, std::size_t end) {
      at::Tensor x = as_tensor(images, begin, end).clone().requires_grad_(true);
      at::Tensor p, objective;
      if (log) {
        p = log_probabilities(x);  // what this call returns
        objective = p;
      } else {
        p = forward(x);
        objective = p;
      }
      std::vector<std::int64_t> idx(targets.begin() + static_cast<std::ptrdiff_t>(begin),
                                    targets.begin() + static_cast<std::ptrdiff_t>(end));
      at::Tensor chosen = objective.gather(1, at::tensor(idx, at::kLong).view({-1, 1})).sum();
      auto grads = torch::autograd::grad({chosen}, {x});
      const at::Tensor pc = p.detach().contiguous(), g = grads[0].contiguous();
      std::copy(pc.data_ptr<float>(), pc.data_ptr<float>() + pc.numel(), &m(begin, 0));
      std::copy(g.data_ptr<float>(), g.data_ptr<float>() + g.numel(),
                gradients->data() + begin * images.shape().size());
    });
    return m;
  }

  // Runs fn(begin, end) over row ranges of an n-image batch: clamp(n / kMinPartRows, 1, kBatchParts) ranges whose
  // bounds depend on n alone, shared out over min(T, ranges) new threads, ATen single-threaded inside
  // each. ATen's kernels are not batch-size invariant (a row can differ in its last bits between
  // batches of 4 and 8), so ranges that did depend on T would make results depend on the thread
  // count, and under MPI on the number of processes. The threads meet once per batch instead of at every
  // operator's OpenMP barrier, and no OpenMP worker spins between operators: on this 2-core build
  // machine, shared with other work, spinning workers made 2-thread ATen 5-60x slower than
  // 1-thread ATen (LeNet at batch 1: 8.7 vs 524 images/s). The calling thread's own ATen thread
  // count (training in the same process uses it) is left alone.
  // A range has at least kMinPartRows rows where the batch allows: every range reads every weight
  // once, and for weight-heavy layers (AlexNet's 150 MB first fully connected layer) eight ranges of a
  // batch of 10 read them eight times (measured at one thread: 0.66x PyTorch's rate on AlexNet).
  static constexpr std::size_t kBatchParts = 8;
  static constexpr std::size_t kMinPartRows = 5;
  template <typename Fn>
  void split_batch(std::size_t n, Fn fn) const {
    if (n == 0) return;
    const std::size_t threads =
        threads_ > 0 ? static_cast<std::size_t>(threads_) : std::max(1u, std::thread::hardware_concurrency());
    const std::size_t parts = std::clamp<std::size_t>(n / kMinPartRows, 1, kBatchParts);
    const std::size_t workers = std::min(threads, parts);
    BlasThreadsForCall single_blas(true);  // also for one worker: OpenBLAS threads change the bits too
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> failures(workers);
    for (std::size_t w = 0; w < workers; ++w) {
      pool.emplace_back([&, w] {
        try {
          at::set_num_threads(1);  // OpenMP's thread count is per calling thread
          for (std::size_t part = w; part < parts; part += workers) fn(part * n / parts, (part + 1) * n / parts);
        } catch (...) {
          failures[w] = std::current_exception();
        }
      });
    }
    for (auto& t : pool) t.join();
    for (auto& f : failures)
      if (f) std::rethrow_exception(f);
  }

  at::Tensor as_tensor(const ImageBatch& images, std::size_t begin, std::size_t end) const {
    return at::from_blob(
        const_cast<float*>(images.data()) + begin * images.shape().size(),
        {static_cast<std::int64_t>(end - begin), spec_.input.channels, spec_.input.height, spec_.input.width},
        at::kFloat);
  }

  // [0,1] images -> model input.
  at::Tensor model_input(const at::Tensor& images) const {
    at::Tensor x = images;
    if (flip_) x = x.flip({1});
    if (!identity_) x = x * scale_ + shift_;
    return x;
  }

  // [0,1] images -> log-probabilities (N x K): the log-softmax of the logits where the graph has
  // them (its output, or the input of its final Softmax), else the log of its probabilities.
  at::Tensor log_probabilities(const at::Tensor& images) const {
    const bool logits = !spec_.preprocessing.output_is_probabilities;
    if (!logits && !graph_.ends_in_softmax()) return forward(images).log();
    at::Tensor z;
    try {
      z = logits ? graph_.run(model_input(images)) : graph_.run_logits(model_input(images));
    } catch (const c10::Error& e) {
      throw Error(spec_.path + ": torch backend failed (" + json_check::printable(e.what_without_backtrace(), 300) +
                  ")");
    }
    return at::log_softmax(z.reshape({images.size(0), -1}), 1);
  }

  // [0,1] images -> model input -> probabilities (N x K).
  at::Tensor forward(const at::Tensor& images) const {
    const at::Tensor x = model_input(images);
    at::Tensor y;
    try {
      y = graph_.run(x);
    } catch (const c10::Error& e) {
      throw Error(spec_.path + ": torch backend failed (" + json_check::printable(e.what_without_backtrace(), 300) +
                  ")");
    }
    y = y.reshape({images.size(0), -1});
    if (y.size(1) != spec_.num_classes) {
      throw Error(spec_.path + ": model produced " + std::to_string(y.size(1)) + " scores per image, expected " +
                  std::to_string(spec_.num_classes));
    }
    if (!spec_.preprocessing.output_is_probabilities) y = at::softmax(y, 1);
    return y;
  }

  OnnxModel model_;
  ModelSpec spec_;
  Interpreter graph_;
  at::Tensor scale_, shift_;
  int threads_ = 0;
  bool flip_ = false, identity_ = false;
};

}  // namespace

const std::vector<std::string>& torch_supported_operators() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& op : torch_ops::operator_table()) v.push_back(op.name);
    return v;
  }();
  return names;
}

void check_torch_supports(const OnnxModel& model) {
  const std::int64_t opset = torch_internal::default_opset(model.proto());
  for (const auto& np : model.proto().graph().node()) torch_internal::operator_for(model.path(), np, opset);
}

std::string torch_operators_markdown() { return torch_ops::operators_markdown(); }

std::unique_ptr<DifferentiableClassifier> make_torch_classifier(OnnxModel model, const ClassifierOptions& options) {
  return std::make_unique<TorchClassifier>(std::move(model), options);
}

}  // namespace fool

namespace fool {

std::vector<double> run_torch_graph(const OnnxModel& model, std::vector<std::int64_t>* shape) {
  const Interpreter graph(model, "");  // every input is an initializer: nothing is fed
  c10::InferenceMode guard;
  at::Tensor y = graph.run(at::Tensor());
  y = y.to(at::kDouble).contiguous();
  if (shape) shape->assign(y.sizes().begin(), y.sizes().end());
  return std::vector<double>(y.data_ptr<double>(), y.data_ptr<double>() + y.numel());
}

}  // namespace fool
