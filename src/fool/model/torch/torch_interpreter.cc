// The libtorch backend's interpreter (torch_interpreter.h): an ONNX graph resolved, folded and fused
// at load, and its forward pass.
#include "fool/model/torch/torch_interpreter.h"

#include <c10/core/GradMode.h>

#include <cmath>
#include <exception>
#include <utility>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/model/torch/torch_classifier.h"

namespace fool::torch_internal {
namespace {

std::string node_name(const onnx::NodeProto& np) {
  return np.name().empty() ? (np.output_size() > 0 ? np.output(0) : std::string("?")) : np.name();
}

}  // namespace

std::int64_t default_opset(const onnx::ModelProto& proto) {
  std::int64_t opset = 0;
  for (const auto& op : proto.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") opset = op.version();
  return opset;
}

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

Interpreter::Interpreter(const OnnxModel& model, const std::string& input_name) {
  const auto& proto = model.proto();
  const auto& g = proto.graph();
  const std::int64_t opset = default_opset(proto);
  // Weights are plain tensors (not inference tensors), so the gradient path can save them.
  c10::AutoGradMode no_grad(false);
  for (const auto& t : g.initializer()) {
    const int s = slot_of(t.name());
    values_[static_cast<std::size_t>(s)] = torch_ops::tensor_from_proto(t, model.path());
    constant_[static_cast<std::size_t>(s)] = true;
  }
  input_ = slot_of(input_name);
  constant_[static_cast<std::size_t>(input_)] = false;
  values_[static_cast<std::size_t>(input_)] = at::Tensor();
  for (const auto& np : g.node()) add_node(np, model.path(), opset);
  if (g.output_size() < 1) throw Error(model.path() + ": the graph has no output");
  auto out = slots_.find(g.output(0).name());
  if (out == slots_.end()) throw Error(model.path() + ": graph output '" + g.output(0).name() + "' is never produced");
  output_ = out->second;
  fold_batch_norms();
  fuse_chains();
  plan_releases();
}

int Interpreter::slot_of(const std::string& name) {
  auto it = slots_.find(name);
  if (it != slots_.end()) return it->second;
  const int s = static_cast<int>(values_.size());
  slots_[name] = s;
  values_.emplace_back();
  constant_.push_back(false);
  return s;
}

void Interpreter::add_node(const onnx::NodeProto& np, const std::string& path, std::int64_t opset) {
  Step st;
  st.op = &operator_for(path, np, opset);
  st.node.proto = &np;
  st.node.opset = opset;
  st.node.where =
      path + ": node '" + json_check::printable(node_name(np)) + "' (" + json_check::printable(np.op_type()) + ")";
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
    return;
  }
  steps_.push_back(std::move(st));
}

at::Tensor Interpreter::run(const at::Tensor& input) const {
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

bool Interpreter::ends_in_softmax() const {
  if (steps_.empty()) return false;
  const Step& last = steps_.back();
  return std::string(last.op->name) == "Softmax" && last.outputs.size() == 1 && last.outputs[0] == output_ &&
         last.inputs.size() == 1 && last.node.i("axis", 1) != 0;
}

at::Tensor Interpreter::run_logits(const at::Tensor& input) const {
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

Tensors Interpreter::run_step(const Step& st, const std::vector<at::Tensor>& v) {
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

int Interpreter::reads(int slot) const {
  int count = slot == output_ ? 1 : 0;
  for (std::size_t k = 0; k < steps_.size(); ++k)
    if (removed_.size() != steps_.size() || !removed_[k])
      for (int s : steps_[k].inputs) count += s == slot;
  return count;
}

int Interpreter::add_constant(at::Tensor t) {
  values_.push_back(std::move(t));
  constant_.push_back(true);
  return static_cast<int>(values_.size()) - 1;
}

void Interpreter::fold_batch_norms() {
  std::unordered_map<int, std::size_t> producer;
  for (std::size_t k = 0; k < steps_.size(); ++k)
    for (int s : steps_[k].outputs)
      if (s >= 0) producer[s] = k;
  std::vector<bool> removed(steps_.size(), false);
  for (std::size_t k = 0; k < steps_.size(); ++k) {
    const Step& bn = steps_[k];
    Step* conv = conv_before_batch_norm(bn, producer, removed);
    if (conv != nullptr && fold_batch_norm(bn, conv)) removed[k] = true;
  }
  std::vector<Step> kept;
  for (std::size_t k = 0; k < steps_.size(); ++k)
    if (!removed[k]) kept.push_back(std::move(steps_[k]));
  steps_ = std::move(kept);
}

Step* Interpreter::conv_before_batch_norm(const Step& bn, const std::unordered_map<int, std::size_t>& producer,
                                          const std::vector<bool>& removed) {
  if (std::string(bn.op->name) != "BatchNormalization" || bn.inputs.size() != 5 || bn.outputs.size() != 1)
    return nullptr;
  if (bn.node.i("training_mode", 0) != 0) return nullptr;
  bool params = true;
  for (std::size_t i = 1; i < 5; ++i) params = params && is_constant(bn.inputs[i]);
  auto p = producer.find(bn.inputs[0]);
  if (!params || p == producer.end() || removed[p->second]) return nullptr;
  Step& conv = steps_[p->second];
  if (std::string(conv.op->name) != "Conv" || conv.outputs.size() != 1 || reads(bn.inputs[0]) != 1) return nullptr;
  if (!is_constant(conv.inputs[1]) || (conv.inputs.size() > 2 && conv.inputs[2] >= 0 && !is_constant(conv.inputs[2])))
    return nullptr;
  return &conv;
}

bool Interpreter::fold_batch_norm(const Step& bn, Step* conv) {
  const at::Tensor& w = values_[static_cast<std::size_t>(conv->inputs[1])];
  auto at_slot = [&](int s) { return values_[static_cast<std::size_t>(s)]; };
  const at::Tensor scale = at_slot(bn.inputs[1]), shift = at_slot(bn.inputs[2]), mean = at_slot(bn.inputs[3]),
                   var = at_slot(bn.inputs[4]);
  if (w.dim() < 3 || scale.numel() != w.size(0)) return false;
  const at::Tensor factor = scale / at::sqrt(var + static_cast<double>(bn.node.f("epsilon", 1e-5f)));
  std::vector<std::int64_t> shape(static_cast<std::size_t>(w.dim()), 1);
  shape[0] = -1;
  const at::Tensor b =
      conv->inputs.size() > 2 && conv->inputs[2] >= 0 ? at_slot(conv->inputs[2]) : at::zeros_like(mean);
  const int new_w = add_constant((w * factor.reshape(shape)).contiguous());
  const int new_b = add_constant(((b - mean) * factor + shift).contiguous());
  conv->inputs.resize(3);
  conv->inputs[1] = new_w;
  conv->inputs[2] = new_b;
  conv->outputs[0] = bn.outputs[0];
  return true;
}

Step* Interpreter::only_feeder(int slot, const char* op, const std::unordered_map<int, std::size_t>& producer,
                               int readers) {
  auto p = producer.find(slot);
  if (p == producer.end() || removed_[p->second] || reads(slot) != readers) return nullptr;
  Step& st = steps_[p->second];
  return std::string(st.op->name) == op && st.outputs.size() == 1 ? &st : nullptr;
}

int Interpreter::with_scalar(const Step& st, double value, double tolerance) const {
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

void Interpreter::fuse_chains() {
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
      fuse_gelu(st, producer);
    } else if (op == "Div" && st.inputs.size() == 2) {
      fuse_layer_norm(st, producer);
    }
  }
  std::vector<Step> kept;
  for (std::size_t k = 0; k < steps_.size(); ++k)
    if (!removed_[k]) kept.push_back(std::move(steps_[k]));
  steps_ = std::move(kept);
}

void Interpreter::fuse_gelu(Step& st, const std::unordered_map<int, std::size_t>& producer) {
  // Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)
  const int prod = with_scalar(st, 0.5);
  Step* m1 = prod >= 0 ? only_feeder(prod, "Mul", producer) : nullptr;
  if (!m1 || m1->inputs.size() != 2) return;
  for (int side = 0; side < 2; ++side) {
    const int x = m1->inputs[static_cast<std::size_t>(side)], plus = m1->inputs[static_cast<std::size_t>(1 - side)];
    Step* add = only_feeder(plus, "Add", producer);
    const int e = add ? with_scalar(*add, 1.0) : -1;
    Step* erf = e >= 0 ? only_feeder(e, "Erf", producer) : nullptr;
    Step* div = erf ? only_feeder(erf->inputs[0], "Div", producer) : nullptr;
    if (!div || div->inputs[0] != x || !is_constant(div->inputs[1]) || with_scalar(*div, std::sqrt(2.0), 1e-5) != x)
      continue;
    for (Step* dead : {m1, add, erf, div}) removed_[index_of(dead)] = true;
    st.op = &torch_ops::fused_gelu;
    st.inputs = {x};
    return;
  }
}

void Interpreter::fuse_layer_norm(Step& st, const std::unordered_map<int, std::size_t>& producer) {
  // Div(Sub(x, ReduceMean(x)), Sqrt(Add(ReduceMean(Pow(Sub(..), 2)), eps))) [Mul scale] [Add bias]
  Step* sub = only_feeder(st.inputs[0], "Sub", producer, 2);
  Step* sqrt = only_feeder(st.inputs[1], "Sqrt", producer);
  if (!sub || !sqrt) return;
  Step* mean = only_feeder(sub->inputs[1], "ReduceMean", producer);
  Step* add = only_feeder(sqrt->inputs[0], "Add", producer);
  if (!mean || !add || mean->inputs[0] != sub->inputs[0] || add->inputs.size() != 2) return;
  const int eps_slot = is_constant(add->inputs[1]) ? add->inputs[1] : add->inputs[0];
  const int var_slot = eps_slot == add->inputs[1] ? add->inputs[0] : add->inputs[1];
  if (!is_constant(eps_slot) || values_[static_cast<std::size_t>(eps_slot)].numel() != 1) return;
  Step* var = only_feeder(var_slot, "ReduceMean", producer);
  Step* pow = var ? only_feeder(var->inputs[0], "Pow", producer) : nullptr;
  if (!pow || pow->inputs[0] != st.inputs[0] || with_scalar(*pow, 2.0, 0.0) != st.inputs[0]) return;
  // Both means over the same trailing axes, kept (attribute axes: opsets before 18).
  const auto axes = mean->node.ints("axes");
  if (axes.empty() || axes != var->node.ints("axes") || mean->inputs.size() != 1 || var->inputs.size() != 1 ||
      mean->node.i("keepdims", 1) != 1 || var->node.i("keepdims", 1) != 1)
    return;
  bool trailing = true;
  for (std::size_t a = 0; a < axes.size(); ++a)
    trailing = trailing && axes[a] == -static_cast<std::int64_t>(axes.size() - a);
  if (!trailing) return;
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

Step* Interpreter::feeder_of_reader(int slot, const char* op) {
  for (std::size_t k = 0; k < steps_.size(); ++k) {
    if (removed_[k] || std::string(steps_[k].op->name) != op) continue;
    for (int s : steps_[k].inputs)
      if (s == slot) return &steps_[k];
  }
  return nullptr;
}

void Interpreter::plan_releases() {
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

}  // namespace fool::torch_internal
