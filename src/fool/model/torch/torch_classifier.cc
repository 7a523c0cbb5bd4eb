// TorchClassifier: an interpreter that maps each ONNX node onto ATen operations through the
// operator table of torch_ops.h. At load it resolves every value name to a slot, folds the nodes
// whose inputs are all constants, folds inference BatchNormalization into the Conv before it, runs
// the exporter's GELU and LayerNorm chains as fused kernels, and computes when each intermediate
// tensor is last needed, so that a forward pass holds only the tensors later nodes still read.
// Batches are split over threads that each run ATen single-threaded.
#include "fool/model/torch/torch_classifier.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <onnx/onnx_pb.h>
#include <torch/csrc/autograd/autograd.h>

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <thread>
#include <unordered_map>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/torch/torch_ops.h"

namespace fool {
namespace {

using torch_ops::Node;
using torch_ops::OpInfo;
using torch_ops::Tensors;

std::int64_t default_opset(const onnx::ModelProto& proto) {
  std::int64_t opset = 0;
  for (const auto& op : proto.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") opset = op.version();
  return opset;
}

std::string node_name(const onnx::NodeProto& np) {
  return np.name().empty() ? (np.output_size() > 0 ? np.output(0) : std::string("?")) : np.name();
}

// The runner for a node's operator, or a one-line error naming the operator, the node, the opset and the list.
const OpInfo& operator_for(const std::string& path, const onnx::NodeProto& np, std::int64_t opset) {
  const bool default_domain = np.domain().empty() || np.domain() == "ai.onnx";
  const OpInfo* op = default_domain ? torch_ops::find_operator(np.op_type()) : nullptr;
  if (op) return *op;
  std::string list;
  for (const auto& name : torch_supported_operators()) list += (list.empty() ? "" : ", ") + name;
  const std::string type = default_domain ? np.op_type() : np.domain() + "." + np.op_type();
  // Names come from the file: escaped, so the error stays one line.
  throw Error(path + ": node '" + json_check::printable(node_name(np)) + "' uses operator " +
              json_check::printable(type) + " (opset " + std::to_string(opset) +
              "), which the torch backend does not run; it runs " + list + " (docs/operators.md)");
}

// One node ready to run: its operator, attributes, and the slots it reads, writes and frees.
struct Step {
  const OpInfo* op = nullptr;
  Node node;
  std::vector<int> inputs;   // -1: omitted optional input
  std::vector<int> outputs;  // -1: omitted output
  std::vector<int> release;  // slots no later step reads: freed right after this one
};

class Interpreter {
 public:
  Interpreter(const OnnxModel& model, const std::string& input_name) {
    const auto& proto = model.proto();
    const auto& g = proto.graph();
    const std::int64_t opset = default_opset(proto);
    // Weights are plain tensors (not inference tensors), so the gradient path can save them.
    c10::AutoGradMode no_grad(false);
    auto slot_of = [&](const std::string& name) {
      auto it = slots_.find(name);
      if (it != slots_.end()) return it->second;
      const int s = static_cast<int>(values_.size());
      slots_[name] = s;
      values_.emplace_back();
      constant_.push_back(false);
      return s;
    };
    for (const auto& t : g.initializer()) {
      const int s = slot_of(t.name());
      values_[static_cast<std::size_t>(s)] = torch_ops::tensor_from_proto(t, model.path());
      constant_[static_cast<std::size_t>(s)] = true;
    }
    input_ = slot_of(input_name);
    constant_[static_cast<std::size_t>(input_)] = false;
    values_[static_cast<std::size_t>(input_)] = at::Tensor();
    for (const auto& np : g.node()) {
      Step st;
      st.op = &operator_for(model.path(), np, opset);
      st.node.proto = &np;
      st.node.opset = opset;
      st.node.where = model.path() + ": node '" + json_check::printable(node_name(np)) + "' (" +
                      json_check::printable(np.op_type()) + ")";
      for (const auto& a : np.attribute()) st.node.attrs[a.name()] = &a;
      bool all_constant = true;
      for (const auto& name : np.input()) {
        if (name.empty()) {
          st.inputs.push_back(-1);
          continue;
        }
        auto it = slots_.find(name);
        if (it == slots_.end()) throw st.node.error("input '" + name + "' is not produced by any earlier node");
        st.inputs.push_back(it->second);
        all_constant = all_constant && constant_[static_cast<std::size_t>(it->second)];
      }
      for (const auto& name : np.output()) st.outputs.push_back(name.empty() ? -1 : slot_of(name));
      if (all_constant) {
        // Same result on every call: compute it now.
        Tensors outs = run_step(st, values_);
        for (std::size_t o = 0; o < st.outputs.size() && o < outs.size(); ++o) {
          if (st.outputs[o] < 0) continue;
          values_[static_cast<std::size_t>(st.outputs[o])] = outs[o];
          constant_[static_cast<std::size_t>(st.outputs[o])] = true;
        }
        continue;
      }
      steps_.push_back(std::move(st));
    }
    if (g.output_size() < 1) throw Error(model.path() + ": the graph has no output");
    auto out = slots_.find(g.output(0).name());
    if (out == slots_.end())
      throw Error(model.path() + ": graph output '" + g.output(0).name() + "' is never produced");
    output_ = out->second;
    fold_batch_norms();
    fuse_chains();
    plan_releases();
  }

  // Input (model-input values, N x C x H x W) -> the graph's first output.
  at::Tensor run(const at::Tensor& input) const {
    std::vector<at::Tensor> v = values_;
    v[static_cast<std::size_t>(input_)] = input;
    for (const auto& st : steps_) {
      Tensors outs = run_step(st, v);
      for (std::size_t o = 0; o < st.outputs.size() && o < outs.size(); ++o)
        if (st.outputs[o] >= 0) v[static_cast<std::size_t>(st.outputs[o])] = std::move(outs[o]);
      for (int s : st.release) v[static_cast<std::size_t>(s)].reset();
    }
    at::Tensor y = v[static_cast<std::size_t>(output_)];
    if (!y.defined()) throw Error("graph output was never produced");
    return y;
  }

  std::size_t steps() const { return steps_.size(); }

  // Whether the graph's output is a Softmax over the class axis of N x K scores, as its last step.
  bool ends_in_softmax() const {
    if (steps_.empty()) return false;
    const Step& last = steps_.back();
    return std::string(last.op->name) == "Softmax" && last.outputs.size() == 1 && last.outputs[0] == output_ &&
           last.inputs.size() == 1 && last.node.i("axis", 1) != 0;
  }

  // The logits: the input of the final Softmax (ends_in_softmax() must hold).
  at::Tensor run_logits(const at::Tensor& input) const {
    std::vector<at::Tensor> v = values_;
    v[static_cast<std::size_t>(input_)] = input;
    for (std::size_t k = 0; k + 1 < steps_.size(); ++k) {
      const Step& st = steps_[k];
      Tensors outs = run_step(st, v);
      for (std::size_t o = 0; o < st.outputs.size() && o < outs.size(); ++o)
        if (st.outputs[o] >= 0) v[static_cast<std::size_t>(st.outputs[o])] = std::move(outs[o]);
      for (int s : st.release) v[static_cast<std::size_t>(s)].reset();
    }
    return v[static_cast<std::size_t>(steps_.back().inputs[0])];
  }

 private:
  static Tensors run_step(const Step& st, const std::vector<at::Tensor>& v) {
    Tensors args;
    args.reserve(st.inputs.size());
    for (int s : st.inputs) args.push_back(s < 0 ? at::Tensor() : v[static_cast<std::size_t>(s)]);
    try {
      return st.op->run(st.node, args);
    } catch (const c10::Error& e) {
      throw st.node.error(json_check::printable(e.what_without_backtrace(), 300));  // ATen: several lines
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {  // some ATen checks (reshape's) throw other types
      const std::string what = e.what();
      throw st.node.error(json_check::printable(what.substr(0, what.find('\n')), 300));
    }
  }

  int reads(int slot) const {
    int count = slot == output_ ? 1 : 0;
    for (std::size_t k = 0; k < steps_.size(); ++k)
      if (removed_.size() != steps_.size() || !removed_[k])
        for (int s : steps_[k].inputs) count += s == slot;
    return count;
  }
  bool is_constant(int slot) const { return slot >= 0 && constant_[static_cast<std::size_t>(slot)]; }
  int add_constant(at::Tensor t) {
    values_.push_back(std::move(t));
    constant_.push_back(true);
    return static_cast<int>(values_.size()) - 1;
  }

  // Conv -> BatchNormalization (inference, constant parameters, the Conv's output read only by it)
  // becomes one Conv with scaled weights and a shifted bias: what PyTorch's exporter does for
  // torchvision models, done here for the graphs that keep the pair.
  void fold_batch_norms() {
    std::unordered_map<int, std::size_t> producer;
    for (std::size_t k = 0; k < steps_.size(); ++k)
      for (int s : steps_[k].outputs)
        if (s >= 0) producer[s] = k;
    std::vector<bool> removed(steps_.size(), false);
    for (std::size_t k = 0; k < steps_.size(); ++k) {
      Step& bn = steps_[k];
      if (std::string(bn.op->name) != "BatchNormalization" || bn.inputs.size() != 5 || bn.outputs.size() != 1) continue;
      if (bn.node.i("training_mode", 0) != 0) continue;
      bool params = true;
      for (std::size_t i = 1; i < 5; ++i) params = params && is_constant(bn.inputs[i]);
      auto p = producer.find(bn.inputs[0]);
      if (!params || p == producer.end() || removed[p->second]) continue;
      Step& conv = steps_[p->second];
      if (std::string(conv.op->name) != "Conv" || conv.outputs.size() != 1 || reads(bn.inputs[0]) != 1) continue;
      if (!is_constant(conv.inputs[1]) ||
          (conv.inputs.size() > 2 && conv.inputs[2] >= 0 && !is_constant(conv.inputs[2])))
        continue;
      const at::Tensor& w = values_[static_cast<std::size_t>(conv.inputs[1])];
      auto at_slot = [&](int s) { return values_[static_cast<std::size_t>(s)]; };
      const at::Tensor scale = at_slot(bn.inputs[1]), shift = at_slot(bn.inputs[2]), mean = at_slot(bn.inputs[3]),
                       var = at_slot(bn.inputs[4]);
      if (w.dim() < 3 || scale.numel() != w.size(0)) continue;
      const at::Tensor factor = scale / at::sqrt(var + static_cast<double>(bn.node.f("epsilon", 1e-5f)));
      std::vector<std::int64_t> shape(static_cast<std::size_t>(w.dim()), 1);
      shape[0] = -1;
      const at::Tensor b =
          conv.inputs.size() > 2 && conv.inputs[2] >= 0 ? at_slot(conv.inputs[2]) : at::zeros_like(mean);
      const int new_w = add_constant((w * factor.reshape(shape)).contiguous());
      const int new_b = add_constant(((b - mean) * factor + shift).contiguous());
      conv.inputs.resize(3);
      conv.inputs[1] = new_w;
      conv.inputs[2] = new_b;
      conv.outputs[0] = bn.outputs[0];
      removed[k] = true;
    }
    std::vector<Step> kept;
    for (std::size_t k = 0; k < steps_.size(); ++k)
      if (!removed[k]) kept.push_back(std::move(steps_[k]));
    steps_ = std::move(kept);
  }

  // The single step that writes `slot`, if it runs `op` and no one but one step reads the slot.
  Step* only_feeder(int slot, const char* op, const std::unordered_map<int, std::size_t>& producer, int readers = 1) {
    auto p = producer.find(slot);
    if (p == producer.end() || removed_[p->second] || reads(slot) != readers) return nullptr;
    Step& st = steps_[p->second];
    return std::string(st.op->name) == op && st.outputs.size() == 1 ? &st : nullptr;
  }
  // The other input of a two-input step, when one of them is the constant scalar `value`.
  int with_scalar(const Step& st, double value, double tolerance = 1e-6) const {
    if (st.inputs.size() != 2) return -1;
    for (int k = 0; k < 2; ++k) {
      const int c = st.inputs[static_cast<std::size_t>(k)];
      if (!is_constant(c)) continue;
      const at::Tensor& t = values_[static_cast<std::size_t>(c)];
      if (t.numel() == 1 && std::abs(t.item<double>() - value) <= tolerance)
        return st.inputs[static_cast<std::size_t>(1 - k)];
    }
    return -1;
  }
  std::size_t index_of(const Step* st) const { return static_cast<std::size_t>(st - steps_.data()); }

  // Replaces the chains PyTorch's exporter writes for GELU and (before opset 17) LayerNorm by one
  // step each that runs ATen's fused kernel, as PyTorch eager does.
  void fuse_chains() {
    std::unordered_map<int, std::size_t> producer;
    for (std::size_t k = 0; k < steps_.size(); ++k)
      for (int s : steps_[k].outputs)
        if (s >= 0) producer[s] = k;
    removed_.assign(steps_.size(), false);
    for (std::size_t k = 0; k < steps_.size(); ++k) {
      Step& st = steps_[k];
      if (removed_[k] || st.outputs.size() != 1) continue;
      const std::string op = st.op->name;
      if (op == "Mul") {
        // Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)
        const int prod = with_scalar(st, 0.5);
        Step* m1 = prod >= 0 ? only_feeder(prod, "Mul", producer) : nullptr;
        if (!m1 || m1->inputs.size() != 2) continue;
        for (int side = 0; side < 2; ++side) {
          const int x = m1->inputs[static_cast<std::size_t>(side)],
                    plus = m1->inputs[static_cast<std::size_t>(1 - side)];
          Step* add = only_feeder(plus, "Add", producer);
          const int e = add ? with_scalar(*add, 1.0) : -1;
          Step* erf = e >= 0 ? only_feeder(e, "Erf", producer) : nullptr;
          Step* div = erf ? only_feeder(erf->inputs[0], "Div", producer) : nullptr;
          if (!div || div->inputs[0] != x || !is_constant(div->inputs[1]) ||
              with_scalar(*div, std::sqrt(2.0), 1e-5) != x)
            continue;
          for (Step* dead : {m1, add, erf, div}) removed_[index_of(dead)] = true;
          st.op = &torch_ops::fused_gelu;
          st.inputs = {x};
          break;
        }
      } else if (op == "Div" && st.inputs.size() == 2) {
        // Div(Sub(x, ReduceMean(x)), Sqrt(Add(ReduceMean(Pow(Sub(..), 2)), eps))) [Mul scale] [Add bias]
        Step* sub = only_feeder(st.inputs[0], "Sub", producer, 2);
        Step* sqrt = only_feeder(st.inputs[1], "Sqrt", producer);
        if (!sub || !sqrt) continue;
        Step* mean = only_feeder(sub->inputs[1], "ReduceMean", producer);
        Step* add = only_feeder(sqrt->inputs[0], "Add", producer);
        if (!mean || !add || mean->inputs[0] != sub->inputs[0] || add->inputs.size() != 2) continue;
        const int eps_slot = is_constant(add->inputs[1]) ? add->inputs[1] : add->inputs[0];
        const int var_slot = eps_slot == add->inputs[1] ? add->inputs[0] : add->inputs[1];
        if (!is_constant(eps_slot) || values_[static_cast<std::size_t>(eps_slot)].numel() != 1) continue;
        Step* var = only_feeder(var_slot, "ReduceMean", producer);
        Step* pow = var ? only_feeder(var->inputs[0], "Pow", producer) : nullptr;
        if (!pow || pow->inputs[0] != st.inputs[0] || with_scalar(*pow, 2.0, 0.0) != st.inputs[0]) continue;
        // Both means over the same trailing axes, kept (attribute axes: opsets before 18).
        const auto axes = mean->node.ints("axes");
        if (axes.empty() || axes != var->node.ints("axes") || mean->inputs.size() != 1 || var->inputs.size() != 1 ||
            mean->node.i("keepdims", 1) != 1 || var->node.i("keepdims", 1) != 1)
          continue;
        bool trailing = true;
        for (std::size_t a = 0; a < axes.size(); ++a)
          trailing = trailing && axes[a] == -static_cast<std::int64_t>(axes.size() - a);
        if (!trailing) continue;
        const int x = sub->inputs[0];
        const double eps = values_[static_cast<std::size_t>(eps_slot)].item<double>();
        for (Step* dead : {sub, sqrt, mean, add, var, pow}) removed_[index_of(dead)] = true;
        st.op = &torch_ops::fused_layer_norm;
        st.node.fused = {static_cast<double>(axes.size()), eps};
        st.inputs = {x, -1, -1};
        // The affine part, when it follows with constants.
        Step* scale = reads(st.outputs[0]) == 1 ? feeder_of_reader(st.outputs[0], "Mul") : nullptr;
        if (scale && scale->inputs.size() == 2 && is_constant(scale->inputs[1]) && scale->inputs[0] == st.outputs[0]) {
          st.inputs[1] = scale->inputs[1];
          st.outputs[0] = scale->outputs[0];
          removed_[index_of(scale)] = true;
          Step* bias = reads(st.outputs[0]) == 1 ? feeder_of_reader(st.outputs[0], "Add") : nullptr;
          if (bias && bias->inputs.size() == 2 && is_constant(bias->inputs[1]) && bias->inputs[0] == st.outputs[0]) {
            st.inputs[2] = bias->inputs[1];
            st.outputs[0] = bias->outputs[0];
            removed_[index_of(bias)] = true;
          }
        }
      }
    }
    std::vector<Step> kept;
    for (std::size_t k = 0; k < steps_.size(); ++k)
      if (!removed_[k]) kept.push_back(std::move(steps_[k]));
    steps_ = std::move(kept);
  }

  // The step running `op` that reads `slot` (not yet removed), or nullptr.
  Step* feeder_of_reader(int slot, const char* op) {
    for (std::size_t k = 0; k < steps_.size(); ++k) {
      if (removed_[k] || std::string(steps_[k].op->name) != op) continue;
      for (int s : steps_[k].inputs)
        if (s == slot) return &steps_[k];
    }
    return nullptr;
  }

  // Each non-constant slot is freed after the last step that reads it (outputs nobody reads: at once).
  void plan_releases() {
    std::vector<int> last(values_.size(), -1);
    for (std::size_t k = 0; k < steps_.size(); ++k) {
      for (int s : steps_[k].inputs)
        if (s >= 0) last[static_cast<std::size_t>(s)] = static_cast<int>(k);
      for (int s : steps_[k].outputs)
        if (s >= 0 && last[static_cast<std::size_t>(s)] < static_cast<int>(k))
          last[static_cast<std::size_t>(s)] = static_cast<int>(k);
    }
    for (std::size_t s = 0; s < values_.size(); ++s) {
      if (constant_[s] || static_cast<int>(s) == output_ || last[s] < 0) continue;
      steps_[static_cast<std::size_t>(last[s])].release.push_back(static_cast<int>(s));
    }
  }

  std::unordered_map<std::string, int> slots_;
  std::vector<at::Tensor> values_;  // per slot: the constant, or undefined for values computed per call
  std::vector<bool> constant_;
  std::vector<bool> removed_;  // per step, while fusing
  std::vector<Step> steps_;    // Step::node points into the ModelProto, which the owning classifier keeps alive
  int input_ = -1, output_ = -1;
};

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
  Backend backend() const override { return Backend::Torch; }

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
  const std::int64_t opset = default_opset(model.proto());
  for (const auto& np : model.proto().graph().node()) operator_for(model.path(), np, opset);
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
