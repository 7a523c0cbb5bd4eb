// Lowering's graph bookkeeping: the walk over the nodes, constants and initializers (their bytes
// released as they are taken), values, fusions, attributes, windows, and the dispatch to each
// operator's lowering (onednn_lower_ops.cc).
#include "fool/model/onednn/onednn_lowering.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <optional>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/model/onnx/graph_builder.h"

namespace fool::onednn {

using dnnl::algorithm;

const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

Graph Lowering::run(const ModelSpec& spec) {
  const auto& graph = model_.proto().graph();
  // Initializers are decoded where a layer takes them (and moved into it), so that the model's
  // weights are held at most twice at once (the file's and the layer's) while lowering.
  for (const auto& t : graph.initializer()) inits_[t.name()] = &t;
  for (const auto& n : graph.node())
    for (const auto& in : n.input())
      if (!in.empty()) ++uses_[in];
  ++uses_[spec.output_name];
  for (int k = 0; k < graph.node_size(); ++k)
    for (const auto& out : graph.node(k).output()) producer_[out] = k;
  find_swish(graph);

  g_.input = new_value({spec.input.channels, spec.input.height, spec.input.width});
  bind(spec.input_name, g_.input);
  for (int k = 0; k < graph.node_size(); ++k) {
    if (skipped_.count(k)) continue;
    node_ = &graph.node(k);
    k_ = k;
    where_ = "node '" + json_check::printable(node_->name().empty() ? node_->output(0) : node_->name()) + "' (" +
             json_check::printable(node_->op_type()) + ")";
    lower(*node_);
  }
  auto it = ids_.find(spec.output_name);
  if (it == ids_.end())
    throw Error(g_.path + ": the onednn backend cannot compute the output '" + spec.output_name +
                "' (a constant or unknown value)");
  g_.output = it->second;
  std::int64_t k = 1;
  for (auto d : g_.values[static_cast<std::size_t>(g_.output)].dims) k *= d;
  if (k != spec.num_classes)
    throw Error(g_.path + ": the onednn backend computes " + std::to_string(k) + " scores per image, the model says " +
                std::to_string(spec.num_classes));
  return std::move(g_);
}

void Lowering::decline(const std::string& why) const {
  throw Error(g_.path + ": the onednn backend does not run " + where_ + ": " + why);
}

Const Lowering::read_tensor(const onnx::TensorProto& t, const std::string& what, onnx::TensorProto* consumed) const {
  Const c;
  c.dims.assign(t.dims().begin(), t.dims().end());
  std::size_t n = 1;
  for (auto d : c.dims) n *= static_cast<std::size_t>(std::max<std::int64_t>(d, 0));
  const std::string& raw = t.raw_data();
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    if (!raw.empty()) {
      if (raw.size() != n * 4) throw Error(g_.path + ": " + what + " has the wrong number of bytes");
      if (consumed) {
        copy_releasing(consumed->mutable_raw_data(), &c.f);
        std::string().swap(*consumed->mutable_raw_data());
      } else {
        c.f.resize(n);
        std::memcpy(c.f.data(), raw.data(), raw.size());
      }
    } else {
      c.f.assign(t.float_data().begin(), t.float_data().end());
    }
    if (c.f.size() != n) throw Error(g_.path + ": " + what + " has the wrong number of values");
  } else if (t.data_type() == onnx::TensorProto::INT64) {
    c.is_int = true;
    if (!raw.empty() && raw.size() != n * 8) throw Error(g_.path + ": " + what + " has the wrong number of bytes");
    std::optional<std::vector<std::int64_t>> values = onnx_build::tensor_values<std::int64_t>(t);
    if (!values || values->size() != n) throw Error(g_.path + ": " + what + " has the wrong number of values");
    c.i = std::move(*values);
  } else {
    c.dims.push_back(-1);  // marks an unreadable constant: any use of it declines
  }
  return c;
}

void Lowering::copy_releasing(std::string* from, std::vector<float>* to) {
  constexpr std::size_t kBlock = std::size_t{4} << 20;  // bytes, a multiple of 4
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  char* data = from->data();
  const std::size_t size = from->size();
  to->reserve(size / sizeof(float));
  const auto first = (reinterpret_cast<std::uintptr_t>(data) + page - 1) / page * page;
  for (std::size_t at = 0; at < size; at += kBlock) {
    const std::size_t n = std::min(kBlock, size - at);
    const std::size_t old = to->size();
    to->resize(old + n / sizeof(float));
    std::memcpy(to->data() + old, data + at, n);
    const auto end = reinterpret_cast<std::uintptr_t>(data + at + n) / page * page;
    const auto begin = std::max(first, reinterpret_cast<std::uintptr_t>(data + at) / page * page);
    if (end > begin) madvise(data + (begin - reinterpret_cast<std::uintptr_t>(data)), end - begin, MADV_DONTNEED);
  }
}

namespace {

// The eltwise that Mul(x, sn(x)) computes with node sn: a swish for a Sigmoid, a hard swish for a
// HardSigmoid with alpha 1/6 and beta 1/2; none for anything else.
std::optional<Eltwise> swish_of(const onnx::NodeProto& sn) {
  if (sn.op_type() == "Sigmoid") return Eltwise{algorithm::eltwise_swish, 1.0f, 0.0f};
  if (sn.op_type() != "HardSigmoid") return std::nullopt;
  const auto* a = find_attr(sn, "alpha");
  const auto* b = find_attr(sn, "beta");
  const float alpha = a ? a->f() : 0.2f, beta = b ? b->f() : 0.5f;
  if (std::abs(alpha - 1.0f / 6.0f) > 1e-6f || beta != 0.5f) return std::nullopt;
  return Eltwise{algorithm::eltwise_hardswish, 0.0f, 0.0f};
}

}  // namespace

void Lowering::find_swish(const onnx::GraphProto& graph) {
  for (int k = 0; k < graph.node_size(); ++k) {
    const auto& n = graph.node(k);
    if (n.op_type() != "Mul" || n.input_size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      const std::string& x = n.input(side);
      const std::string& s = n.input(1 - side);
      auto p = producer_.find(s);
      if (p == producer_.end() || uses_[s] != 1) continue;
      const auto& sn = graph.node(p->second);
      if (sn.input_size() != 1 || sn.input(0) != x) continue;
      const std::optional<Eltwise> e = swish_of(sn);
      if (!e) continue;
      swish_[k] = {x, *e};
      skipped_.insert(p->second);
      --uses_[x];  // the Sigmoid no longer reads x
      break;
    }
  }
}

int Lowering::new_value(std::vector<std::int64_t> dims) {
  g_.values.push_back({std::move(dims)});
  return static_cast<int>(g_.values.size()) - 1;
}

Const Lowering::constant(int input) const {
  const std::string& name = node_->input(input);
  auto init = inits_.find(name);
  if (init != inits_.end()) {
    // The last node to read an initializer (once: no other input of the node names it) takes its
    // bytes out of the model, page by page as they are copied, where the model is consumed.
    onnx::TensorProto* owned = nullptr;
    if (auto o = owned_.find(name); o != owned_.end() && o->second == init->second) {
      int here = 0;
      for (const auto& in : node_->input()) here += in == name ? 1 : 0;
      auto& readers = readers_[name];
      readers.insert(k_);
      if (here == 1 && static_cast<int>(readers.size()) == uses_.at(name)) owned = o->second;
    }
    Const c = read_tensor(*init->second, "initializer '" + json_check::printable(name) + "'", owned);
    if (!c.dims.empty() && c.dims.back() == -1)
      decline("constant '" + json_check::printable(name) + "' has an element type other than float32 or int64");
    return c;
  }
  auto it = consts_.find(name);
  if (it == consts_.end()) decline("input '" + json_check::printable(name) + "' must be a constant");
  if (!it->second.dims.empty() && it->second.dims.back() == -1)
    decline("constant '" + json_check::printable(name) + "' has an element type other than float32 or int64");
  return it->second;
}

int Lowering::value(int input) const {
  if (input >= node_->input_size() || node_->input(input).empty()) decline("an input is missing");
  const std::string& name = node_->input(input);
  auto it = ids_.find(name);
  if (it != ids_.end()) return it->second;
  if (is_const(name)) decline("input '" + json_check::printable(name) + "' is a constant where a tensor is expected");
  if (pads_.count(name)) decline("a Pad is read by an operator it cannot be folded into");
  decline("input '" + json_check::printable(name) + "' is not computed by an earlier node");
}

std::int64_t Lowering::attr_i(const std::string& name, std::int64_t def) const {
  const auto* a = find_attr(*node_, name);
  return a ? a->i() : def;
}

float Lowering::attr_f(const std::string& name, float def) const {
  const auto* a = find_attr(*node_, name);
  return a ? a->f() : def;
}

std::vector<std::int64_t> Lowering::attr_ints(const std::string& name, std::vector<std::int64_t> def) const {
  const auto* a = find_attr(*node_, name);
  return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : std::move(def);
}

std::string Lowering::attr_s(const std::string& name, const std::string& def) const {
  const auto* a = find_attr(*node_, name);
  return a ? a->s() : def;
}

void Lowering::only_attrs(std::initializer_list<const char*> known) const {
  for (const auto& a : node_->attribute()) {
    bool ok = false;
    for (const char* k : known) ok = ok || a.name() == k;
    if (!ok) decline("attribute '" + json_check::printable(a.name()) + "' is not supported");
  }
}

void Lowering::one_output() const {
  for (int o = 1; o < node_->output_size(); ++o)
    if (!node_->output(o).empty() && uses_.count(node_->output(o)) && uses_.at(node_->output(o)) > 0)
      decline("its second output is used");
}

int Lowering::add_layer(Layer l, std::vector<std::int64_t> out_dims) {
  l.where = where_;
  l.output = new_value(std::move(out_dims));
  bind(node_->output(0), l.output);
  layer_of_[l.output] = static_cast<int>(g_.layers.size());
  g_.layers.push_back(std::move(l));
  return g_.layers.back().output;
}

Layer* Lowering::fusable(int v, std::initializer_list<Kind> kinds) {
  auto it = layer_of_.find(v);
  if (it == layer_of_.end()) return nullptr;
  if (vuses_[v] != 1) return nullptr;
  Layer& l = g_.layers[static_cast<std::size_t>(it->second)];
  if (std::find(kinds.begin(), kinds.end(), l.kind) == kinds.end()) return nullptr;
  return &l;
}

void Lowering::bind(const std::string& name, int v) {
  ids_[name] = v;
  vuses_[v] += uses_[name];
}

void Lowering::rename(int v, const std::string& what) {
  ids_[node_->output(0)] = v;
  vuses_[v] = uses_[node_->output(0)];
  Layer& l = g_.layers[static_cast<std::size_t>(layer_of_.at(v))];
  l.what += "+" + what;
}

void Lowering::eltwise(int v, std::vector<Eltwise> ops, const std::string& what) {
  if (Layer* l = fusable(v, {Kind::Conv, Kind::InnerProduct, Kind::Eltwise})) {
    for (const auto& e : ops) {
      if (l->kind == Kind::Eltwise)
        l->chain.push_back(e);
      else
        l->post.push_back({false, e});
    }
    rename(v, what);
    return;
  }
  Layer l;
  l.kind = Kind::Eltwise;
  l.what = what;
  l.inputs = {v};
  l.chain = std::move(ops);
  add_layer(std::move(l), dims(v));
}

Lowering::Window Lowering::window(const std::vector<std::int64_t>& kernel,
                                  const std::vector<std::int64_t>& extra_pads) const {
  if (kernel.size() != 2) decline("only 2-D windows are supported");
  const std::string auto_pad = attr_s("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID")
    decline("auto_pad " + json_check::printable(auto_pad) + " is not supported");
  Window w;
  w.kernel = {kernel[0], kernel[1]};
  const auto s = attr_ints("strides", {1, 1});
  const auto d = attr_ints("dilations", {1, 1});
  auto p = attr_ints("pads", {0, 0, 0, 0});
  if (auto_pad == "VALID") p = {0, 0, 0, 0};
  if (s.size() != 2 || d.size() != 2 || p.size() != 4) decline("strides, dilations or pads of the wrong length");
  for (int i = 0; i < 4; ++i) p[static_cast<std::size_t>(i)] += extra_pads[static_cast<std::size_t>(i)];
  for (auto x : s)
    if (x < 1) decline("a stride below 1");
  for (auto x : d)
    if (x < 1) decline("a dilation below 1");
  for (auto x : p)
    if (x < 0) decline("a negative pad");
  w.strides = {s[0], s[1]};
  w.dilates = {d[0] - 1, d[1] - 1};
  w.pad_l = {p[0], p[1]};
  w.pad_r = {p[2], p[3]};
  return w;
}

std::int64_t Lowering::out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t dil, std::int64_t pl,
                                std::int64_t pr) const {
  const std::int64_t span = (k - 1) * (dil + 1) + 1;
  const std::int64_t o = (in + pl + pr - span) / s + 1;
  if (in + pl + pr < span || o < 1) decline("the window is larger than its padded input");
  return o;
}

std::pair<std::string, std::vector<std::int64_t>> Lowering::take_pad() {
  std::vector<std::int64_t> extra(4, 0);
  const std::string& name = node_->input(0);
  auto it = pads_.find(name);
  if (it == pads_.end()) return {name, extra};
  if (uses_[name] != 1) decline("a Pad read by more than one node");
  return it->second;
}

void Lowering::constant_node(const onnx::NodeProto& n) {
  const auto* a = find_attr(n, "value");
  if (!a || a->type() != onnx::AttributeProto::TENSOR) decline("only a 'value' tensor is supported");
  consts_[n.output(0)] = read_tensor(a->t(), where_);
}

void Lowering::pass_through(const onnx::NodeProto& n) {
  one_output();
  if (n.op_type() == "Dropout" && n.input_size() > 2 && !n.input(2).empty()) {
    const Const& training = constant(2);
    if (training.is_int || (!training.f.empty() && training.f[0] != 0.0f)) decline("training mode");
  }
  const std::string& in = n.input(0);
  if (is_const(in)) {
    if (inits_.count(in))
      inits_[n.output(0)] = inits_.at(in);
    else
      consts_[n.output(0)] = consts_.at(in);
  } else {
    const int v = value(0);
    bind(n.output(0), v);
    --vuses_[v];  // the Identity itself is no reader
  }
}

void Lowering::swish() {
  const auto& s = swish_.at(k_);
  const int v = ids_.count(s.first) ? ids_.at(s.first) : value(0);
  // x is now read by the Mul alone where it was read by the Sigmoid and the Mul.
  eltwise(v, {s.second}, s.second.alg == algorithm::eltwise_swish ? "Swish" : "HardSwish");
}

void Lowering::clip(const onnx::NodeProto& n) {
  float lo = -FLT_MAX, hi = FLT_MAX;
  if (find_attr(n, "min") || find_attr(n, "max")) {
    only_attrs({"min", "max"});
    lo = attr_f("min", lo);
    hi = attr_f("max", hi);
  }
  for (int i = 1; i < 3 && i < n.input_size(); ++i) {
    if (n.input(i).empty()) continue;
    const Const& c = constant(i);
    if (c.is_int || c.f.size() != 1) decline("Clip's bounds must be float scalars");
    (i == 1 ? lo : hi) = c.f[0];
  }
  eltwise(value(0), {{algorithm::eltwise_clip, lo, hi}}, n.op_type());
}

void Lowering::lower(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  const bool default_domain = n.domain().empty() || n.domain() == "ai.onnx";
  if (!default_domain) decline("operators outside the default domain are not supported");
  if (n.output_size() < 1) decline("it has no output");
  // A node whose inputs are all constants (shape arithmetic, a Constant): only the plain forms.
  if (op == "Constant") return constant_node(n);
  if (op == "Identity" || op == "Dropout") return pass_through(n);
  if (swish_.count(k_)) return swish();
  // Each operator's lowering (the activations here; the others in onednn_lower_ops.cc).
  using Lower = void (*)(Lowering&, const onnx::NodeProto&);
  static const std::unordered_map<std::string, Lower> kLowerings = {
      {"Conv", [](Lowering& l, const onnx::NodeProto&) { l.conv(); }},
      {"BatchNormalization", [](Lowering& l, const onnx::NodeProto&) { l.batch_norm(); }},
      {"Relu",
       [](Lowering& l, const onnx::NodeProto& n) {
         l.only_attrs({});
         l.eltwise(l.value(0), {{algorithm::eltwise_relu, 0.0f, 0.0f}}, n.op_type());
       }},
      {"LeakyRelu",
       [](Lowering& l, const onnx::NodeProto& n) {
         l.only_attrs({"alpha"});
         l.eltwise(l.value(0), {{algorithm::eltwise_relu, l.attr_f("alpha", 0.01f), 0.0f}}, n.op_type());
       }},
      {"Sigmoid",
       [](Lowering& l, const onnx::NodeProto& n) {
         l.eltwise(l.value(0), {{algorithm::eltwise_logistic, 0.0f, 0.0f}}, n.op_type());
       }},
      {"Tanh",
       [](Lowering& l, const onnx::NodeProto& n) {
         l.eltwise(l.value(0), {{algorithm::eltwise_tanh, 0.0f, 0.0f}}, n.op_type());
       }},
      {"HardSwish",
       [](Lowering& l, const onnx::NodeProto& n) {
         l.eltwise(l.value(0), {{algorithm::eltwise_hardswish, 0.0f, 0.0f}}, n.op_type());
       }},
      {"HardSigmoid",
       [](Lowering& l, const onnx::NodeProto& n) {
         l.only_attrs({"alpha", "beta"});
         l.eltwise(l.value(0),
                   {{algorithm::eltwise_linear, l.attr_f("alpha", 0.2f), l.attr_f("beta", 0.5f)},
                    {algorithm::eltwise_clip, 0.0f, 1.0f}},
                   n.op_type());
       }},
      {"Clip", [](Lowering& l, const onnx::NodeProto& n) { l.clip(n); }},
      {"Add", [](Lowering& l, const onnx::NodeProto& n) { l.binary(n.op_type()); }},
      {"Mul", [](Lowering& l, const onnx::NodeProto& n) { l.binary(n.op_type()); }},
      {"Sub", [](Lowering& l, const onnx::NodeProto& n) { l.binary(n.op_type()); }},
      {"Div", [](Lowering& l, const onnx::NodeProto& n) { l.binary(n.op_type()); }},
      {"MaxPool", [](Lowering& l, const onnx::NodeProto& n) { l.pool(n.op_type()); }},
      {"AveragePool", [](Lowering& l, const onnx::NodeProto& n) { l.pool(n.op_type()); }},
      {"GlobalAveragePool", [](Lowering& l, const onnx::NodeProto& n) { l.global_pool(n.op_type()); }},
      {"GlobalMaxPool", [](Lowering& l, const onnx::NodeProto& n) { l.global_pool(n.op_type()); }},
      {"ReduceMean", [](Lowering& l, const onnx::NodeProto&) { l.reduce_mean(); }},
      {"Flatten",
       [](Lowering& l, const onnx::NodeProto& n) {
         l.only_attrs({"axis"});
         if (l.attr_i("axis", 1) != 1) l.decline("only axis 1 is supported");
         l.flatten(l.value(0), n.op_type());
       }},
      {"Reshape", [](Lowering& l, const onnx::NodeProto&) { l.reshape(); }},
      {"Gemm", [](Lowering& l, const onnx::NodeProto&) { l.gemm(); }},
      {"MatMul", [](Lowering& l, const onnx::NodeProto&) { l.matmul(); }},
      {"Concat", [](Lowering& l, const onnx::NodeProto&) { l.concat(); }},
      {"Softmax", [](Lowering& l, const onnx::NodeProto&) { l.softmax(); }},
      {"Pad", [](Lowering& l, const onnx::NodeProto&) { l.pad(); }},
  };
  const auto it = kLowerings.find(op);
  if (it == kLowerings.end())
    decline("operator " + json_check::printable(op) + " is not supported (it runs " + list() + ")");
  it->second(*this, n);
}

std::string Lowering::list() {
  std::string out;
  for (const auto& s : supported_operators()) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace fool::onednn
