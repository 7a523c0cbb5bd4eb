// lower_graph: ONNX nodes -> the oneDNN backend's layers, fusions decided once.
#include "fool/model/onednn/onednn_graph.h"

#include <onnx/onnx_pb.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "fool/core/error.h"
#include "fool/core/json_check.h"
#include "fool/model/onnx/onnx_model.h"

namespace fool::onednn {
namespace {

using dnnl::algorithm;

// A constant: an initializer, a Constant node's value, or an Identity of one.
struct Const {
  std::vector<std::int64_t> dims;
  std::vector<float> f;         // float tensors
  std::vector<std::int64_t> i;  // int64 tensors
  bool is_int = false;
  std::size_t numel() const { return is_int ? i.size() : f.size(); }
};

const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

class Lowering {
 public:
  Lowering(const OnnxModel& model, const ModelSpec& spec) : model_(model), fixed_batch_(spec.fixed_batch) {
    g_.path = model.path();
  }

  // Lets constant() take an initializer's bytes out of the model once its last reader has them.
  void consume(onnx::ModelProto* proto) {
    for (auto& t : *proto->mutable_graph()->mutable_initializer()) owned_[t.name()] = &t;
  }

  Graph run(const ModelSpec& spec) {
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
      throw Error(g_.path + ": the onednn backend computes " + std::to_string(k) +
                  " scores per image, the model says " + std::to_string(spec.num_classes));
    return std::move(g_);
  }

 private:
  [[noreturn]] void decline(const std::string& why) const {
    throw Error(g_.path + ": the onednn backend does not run " + where_ + ": " + why);
  }

  // `consumed`: the same tensor, whose float bytes are given back as they are copied and then freed.
  Const read_tensor(const onnx::TensorProto& t, const std::string& what, onnx::TensorProto* consumed = nullptr) const {
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
      if (!raw.empty()) {
        if (raw.size() != n * 8) throw Error(g_.path + ": " + what + " has the wrong number of bytes");
        c.i.resize(n);
        std::memcpy(c.i.data(), raw.data(), raw.size());
      } else {
        c.i.assign(t.int64_data().begin(), t.int64_data().end());
      }
      if (c.i.size() != n) throw Error(g_.path + ": " + what + " has the wrong number of values");
    } else {
      c.dims.push_back(-1);  // marks an unreadable constant: any use of it declines
    }
    return c;
  }

  // Appends the floats in `from` to `to` in blocks (into reserved, untouched memory), giving the
  // pages of `from` already copied back to the system (the string is freed after), so that a large
  // weight is not held twice while it is copied.
  static void copy_releasing(std::string* from, std::vector<float>* to) {
    constexpr std::size_t kBlock = std::size_t{4} << 20;  // bytes, a multiple of 4
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const char* data = from->data();
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
      if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    }
  }

  // Mul(x, Sigmoid(x)) and Mul(x, HardSigmoid(x) with alpha 1/6, beta 1/2), the Sigmoid read by the
  // Mul alone: one swish / hard swish of x; the Sigmoid node is skipped.
  void find_swish(const onnx::GraphProto& graph) {
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
        if (sn.op_type() == "Sigmoid") {
          swish_[k] = {x, {algorithm::eltwise_swish, 1.0f, 0.0f}};
        } else if (sn.op_type() == "HardSigmoid") {
          const auto* a = find_attr(sn, "alpha");
          const auto* b = find_attr(sn, "beta");
          const float alpha = a ? a->f() : 0.2f, beta = b ? b->f() : 0.5f;
          if (std::abs(alpha - 1.0f / 6.0f) > 1e-6f || beta != 0.5f) continue;
          swish_[k] = {x, {algorithm::eltwise_hardswish, 0.0f, 0.0f}};
        } else {
          continue;
        }
        skipped_.insert(p->second);
        --uses_[x];  // the Sigmoid no longer reads x
        break;
      }
    }
  }

  int new_value(std::vector<std::int64_t> dims) {
    g_.values.push_back({std::move(dims)});
    return static_cast<int>(g_.values.size()) - 1;
  }
  const std::vector<std::int64_t>& dims(int v) const { return g_.values[static_cast<std::size_t>(v)].dims; }

  bool is_const(const std::string& name) const { return consts_.count(name) > 0 || inits_.count(name) > 0; }
  Const constant(int input) const {
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
  int value(int input) const {
    if (input >= node_->input_size() || node_->input(input).empty()) decline("an input is missing");
    const std::string& name = node_->input(input);
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    if (is_const(name)) decline("input '" + json_check::printable(name) + "' is a constant where a tensor is expected");
    if (pads_.count(name)) decline("a Pad is read by an operator it cannot be folded into");
    decline("input '" + json_check::printable(name) + "' is not computed by an earlier node");
  }
  std::int64_t attr_i(const std::string& name, std::int64_t def) const {
    const auto* a = find_attr(*node_, name);
    return a ? a->i() : def;
  }
  float attr_f(const std::string& name, float def) const {
    const auto* a = find_attr(*node_, name);
    return a ? a->f() : def;
  }
  std::vector<std::int64_t> attr_ints(const std::string& name, std::vector<std::int64_t> def) const {
    const auto* a = find_attr(*node_, name);
    return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : def;
  }
  std::string attr_s(const std::string& name, const std::string& def) const {
    const auto* a = find_attr(*node_, name);
    return a ? a->s() : def;
  }
  // Only the attributes in `known` may appear (anything else could change the result).
  void only_attrs(std::initializer_list<const char*> known) const {
    for (const auto& a : node_->attribute()) {
      bool ok = false;
      for (const char* k : known) ok = ok || a.name() == k;
      if (!ok) decline("attribute '" + json_check::printable(a.name()) + "' is not supported");
    }
  }
  void one_output() const {
    for (int o = 1; o < node_->output_size(); ++o)
      if (!node_->output(o).empty() && uses_.count(node_->output(o)) && uses_.at(node_->output(o)) > 0)
        decline("its second output is used");
  }

  int add_layer(Layer l, std::vector<std::int64_t> out_dims) {
    l.where = where_;
    l.output = new_value(std::move(out_dims));
    bind(node_->output(0), l.output);
    layer_of_[l.output] = static_cast<int>(g_.layers.size());
    g_.layers.push_back(std::move(l));
    return g_.layers.back().output;
  }
  // The layer that produced value v if the current node is v's only reader and the layer can take
  // one more fused operation; the current node's output then names the same value.
  Layer* fusable(int v, std::initializer_list<Kind> kinds) {
    auto it = layer_of_.find(v);
    if (it == layer_of_.end()) return nullptr;
    if (vuses_[v] != 1) return nullptr;
    Layer& l = g_.layers[static_cast<std::size_t>(it->second)];
    if (std::find(kinds.begin(), kinds.end(), l.kind) == kinds.end()) return nullptr;
    return &l;
  }
  // Names value v `name`; its readers are those of every name it has.
  void bind(const std::string& name, int v) {
    ids_[name] = v;
    vuses_[v] += uses_[name];
  }
  // The current node's output is value v, which the node (its only reader) fused into v's layer.
  void rename(int v, const std::string& what) {
    ids_[node_->output(0)] = v;
    vuses_[v] = uses_[node_->output(0)];
    Layer& l = g_.layers[static_cast<std::size_t>(layer_of_.at(v))];
    l.what += "+" + what;
  }

  void eltwise(int v, std::vector<Eltwise> ops, const std::string& what) {
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

  // Conv and pooling windows over H x W: kernel, strides, dilations, pads, auto_pad.
  struct Window {
    dnnl::memory::dims kernel, strides, dilates, pad_l, pad_r;
  };
  Window window(const std::vector<std::int64_t>& kernel, const std::vector<std::int64_t>& extra_pads) const {
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
  std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t dil, std::int64_t pl,
                        std::int64_t pr) const {
    const std::int64_t span = (k - 1) * (dil + 1) + 1;
    const std::int64_t o = (in + pl + pr - span) / s + 1;
    if (in + pl + pr < span || o < 1) decline("the window is larger than its padded input");
    return o;
  }

  // A Pad of zeros in front of the current node's input 0: returns {source name, pads}.
  std::pair<std::string, std::vector<std::int64_t>> take_pad() {
    std::vector<std::int64_t> extra(4, 0);
    const std::string& name = node_->input(0);
    auto it = pads_.find(name);
    if (it == pads_.end()) return {name, extra};
    if (uses_[name] != 1) decline("a Pad read by more than one node");
    return it->second;
  }

  void lower(const onnx::NodeProto& n) {
    const std::string& op = n.op_type();
    const bool default_domain = n.domain().empty() || n.domain() == "ai.onnx";
    if (!default_domain) decline("operators outside the default domain are not supported");
    if (n.output_size() < 1) decline("it has no output");
    // A node whose inputs are all constants (shape arithmetic, a Constant): only the plain forms.
    if (op == "Constant") {
      const auto* a = find_attr(n, "value");
      if (!a || a->type() != onnx::AttributeProto::TENSOR) decline("only a 'value' tensor is supported");
      consts_[n.output(0)] = read_tensor(a->t(), where_);
      return;
    }
    if (op == "Identity" || op == "Dropout") {
      one_output();
      if (op == "Dropout" && n.input_size() > 2 && !n.input(2).empty()) {
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
      return;
    }
    if (swish_.count(k_)) {
      const auto& s = swish_.at(k_);
      const int v = ids_.count(s.first) ? ids_.at(s.first) : value(0);
      // x is now read by the Mul alone where it was read by the Sigmoid and the Mul.
      eltwise(v, {s.second}, s.second.alg == algorithm::eltwise_swish ? "Swish" : "HardSwish");
      return;
    }
    if (op == "Conv") return conv();
    if (op == "BatchNormalization") return batch_norm();
    if (op == "Relu") {
      only_attrs({});
      return eltwise(value(0), {{algorithm::eltwise_relu, 0.0f, 0.0f}}, op);
    }
    if (op == "LeakyRelu") {
      only_attrs({"alpha"});
      return eltwise(value(0), {{algorithm::eltwise_relu, attr_f("alpha", 0.01f), 0.0f}}, op);
    }
    if (op == "Sigmoid") return eltwise(value(0), {{algorithm::eltwise_logistic, 0.0f, 0.0f}}, op);
    if (op == "Tanh") return eltwise(value(0), {{algorithm::eltwise_tanh, 0.0f, 0.0f}}, op);
    if (op == "HardSwish") return eltwise(value(0), {{algorithm::eltwise_hardswish, 0.0f, 0.0f}}, op);
    if (op == "HardSigmoid") {
      only_attrs({"alpha", "beta"});
      return eltwise(value(0),
                     {{algorithm::eltwise_linear, attr_f("alpha", 0.2f), attr_f("beta", 0.5f)},
                      {algorithm::eltwise_clip, 0.0f, 1.0f}},
                     op);
    }
    if (op == "Clip") {
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
      return eltwise(value(0), {{algorithm::eltwise_clip, lo, hi}}, op);
    }
    if (op == "Add" || op == "Mul" || op == "Sub" || op == "Div") return binary(op);
    if (op == "MaxPool" || op == "AveragePool") return pool(op);
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool") return global_pool(op);
    if (op == "ReduceMean") return reduce_mean();
    if (op == "Flatten") {
      only_attrs({"axis"});
      if (attr_i("axis", 1) != 1) decline("only axis 1 is supported");
      return flatten(value(0), op);
    }
    if (op == "Reshape") return reshape();
    if (op == "Gemm") return gemm();
    if (op == "MatMul") return matmul();
    if (op == "Concat") return concat();
    if (op == "Softmax") return softmax();
    if (op == "Pad") return pad();
    decline("operator " + json_check::printable(op) + " is not supported (it runs " + list() + ")");
  }

  static std::string list() {
    std::string out;
    for (const auto& s : supported_operators()) out += (out.empty() ? "" : ", ") + s;
    return out;
  }

  void conv() {
    only_attrs({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
    auto [src_name, extra] = take_pad();
    auto it = ids_.find(src_name);
    if (it == ids_.end()) value(0);  // declines with the reason
    const int v = it->second;
    const auto& in = dims(v);
    if (in.size() != 3) decline("only 2-D convolutions of N x C x H x W tensors are supported");
    Const w = constant(1);
    if (w.is_int || w.dims.size() != 4) decline("the weights must be a float O x C/g x kh x kw constant");
    const std::int64_t groups = attr_i("group", 1);
    if (groups < 1 || in[0] % groups != 0 || w.dims[0] % groups != 0 || w.dims[1] * groups != in[0])
      decline("the weights do not fit the input's channels and the groups");
    const auto ks = attr_ints("kernel_shape", {w.dims[2], w.dims[3]});
    if (ks.size() != 2 || ks[0] != w.dims[2] || ks[1] != w.dims[3]) decline("kernel_shape differs from the weights");
    Window win = window(ks, extra);
    Layer l;
    l.kind = Kind::Conv;
    l.what = extra != std::vector<std::int64_t>(4, 0) ? "Pad+Conv" : "Conv";
    l.inputs = {v};
    l.weights = std::move(w.f);
    l.weight_dims = w.dims;
    l.groups = groups;
    l.bias.assign(static_cast<std::size_t>(w.dims[0]), 0.0f);
    if (node_->input_size() > 2 && !node_->input(2).empty()) {
      const Const& b = constant(2);
      if (b.is_int || b.f.size() != static_cast<std::size_t>(w.dims[0])) decline("the bias does not fit the weights");
      l.bias = b.f;
    }
    l.kernel = win.kernel;
    l.strides = win.strides;
    l.dilates = win.dilates;
    l.pad_l = win.pad_l;
    l.pad_r = win.pad_r;
    const std::int64_t oh = out_size(in[1], ks[0], win.strides[0], win.dilates[0], win.pad_l[0], win.pad_r[0]);
    const std::int64_t ow = out_size(in[2], ks[1], win.strides[1], win.dilates[1], win.pad_l[1], win.pad_r[1]);
    add_layer(std::move(l), {w.dims[0], oh, ow});
  }

  void batch_norm() {
    only_attrs({"epsilon", "momentum", "training_mode"});
    if (attr_i("training_mode", 0) != 0) decline("training mode");
    one_output();
    const int v = value(0);
    const std::int64_t c = dims(v).empty() ? 0 : dims(v)[0];
    std::vector<float> p[4];
    for (int i = 0; i < 4; ++i) {
      const Const& k = constant(i + 1);
      if (k.is_int || k.f.size() != static_cast<std::size_t>(c)) decline("its parameters do not fit the channels");
      p[i] = k.f;
    }
    const float eps = attr_f("epsilon", 1e-5f);
    Layer* conv = fusable(v, {Kind::Conv});
    if (conv && conv->post.empty()) {
      // w' = w * s, b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps): per output channel.
      const std::size_t per = conv->weights.size() / static_cast<std::size_t>(c);
      for (std::size_t o = 0; o < static_cast<std::size_t>(c); ++o) {
        const float s = p[0][o] / std::sqrt(p[3][o] + eps);
        for (std::size_t j = 0; j < per; ++j) conv->weights[o * per + j] *= s;
        conv->bias[o] = (conv->bias[o] - p[2][o]) * s + p[1][o];
      }
      rename(v, "BatchNormalization");
      return;
    }
    if (dims(v).size() != 3 && dims(v).size() != 1) decline("only N x C x H x W or N x C inputs are supported");
    Layer l;
    l.kind = Kind::BatchNorm;
    l.what = "BatchNormalization";
    l.inputs = {v};
    l.scale = p[0];
    l.shift = p[1];
    l.mean = p[2];
    l.variance = p[3];
    l.epsilon = eps;
    add_layer(std::move(l), dims(v));
  }

  void binary(const std::string& op) {
    only_attrs({});
    const std::string& a = node_->input(0);
    const std::string& b = node_->input(1);
    if (is_const(a) || is_const(b)) {
      // MatMul + Add of a constant bias: the fully connected layer's bias.
      const int v = value(is_const(a) ? 1 : 0);
      const Const& c = constant(is_const(a) ? 0 : 1);
      Layer* ip = op == "Add" ? fusable(v, {Kind::InnerProduct}) : nullptr;
      const std::int64_t k = dims(v).empty() ? 0 : dims(v)[0];
      if (ip && ip->post.empty() && !c.is_int && c.f.size() == static_cast<std::size_t>(k) &&
          (c.dims == std::vector<std::int64_t>{k} || c.dims == std::vector<std::int64_t>{1, k})) {
        for (std::size_t i = 0; i < c.f.size(); ++i) ip->bias[i] += c.f[i];
        rename(v, "Add");
        return;
      }
      // A constant broadcast over the tensor (a mean image or per-channel mean subtracted from the
      // input, a scale): x op c, or c op x for the commutative Add and Mul.
      if ((op == "Sub" || op == "Div") && is_const(a)) decline(op + " of a tensor from a constant is not supported");
      if (c.is_int) decline("an int64 operand is not supported");
      std::vector<std::int64_t> cd = c.dims;
      const auto& vd = dims(v);
      while (cd.size() > vd.size() + 1 && cd.front() == 1) cd.erase(cd.begin());
      if (cd.size() == vd.size() + 1) {
        if (cd.front() != 1) decline("a constant operand with a batch axis is not supported");
        cd.erase(cd.begin());
      }
      if (cd.size() > vd.size()) decline("the constant operand has more axes than the tensor");
      cd.insert(cd.begin(), vd.size() - cd.size(), 1);
      for (std::size_t i = 0; i < vd.size(); ++i)
        if (cd[i] != vd[i] && cd[i] != 1) decline("the constant operand does not broadcast over the tensor");
      Layer l;
      l.kind = Kind::Binary;
      l.what = op;
      l.alg = op == "Add"   ? algorithm::binary_add
              : op == "Sub" ? algorithm::binary_sub
              : op == "Mul" ? algorithm::binary_mul
                            : algorithm::binary_div;
      l.inputs = {v};
      l.constant = c.f;
      l.constant_dims = cd;
      l.constant_dims.insert(l.constant_dims.begin(), 1);
      add_layer(std::move(l), vd);
      return;
    }
    if (op == "Sub" || op == "Div") decline(op + " of two tensors is not supported");
    int va = value(0), vb = value(1);
    if (op == "Add" && dims(va) == dims(vb)) {
      // A residual Add: the sum post-op of the convolution computed later of the two, reading the
      // other (already computed) tensor.
      for (int side = 0; side < 2; ++side) {
        const int x = side == 0 ? va : vb, other = side == 0 ? vb : va;
        Layer* conv = fusable(x, {Kind::Conv});
        if (!conv || !conv->post.empty()) continue;
        auto o = layer_of_.find(other);
        const int conv_index = layer_of_.at(x);
        if (other != g_.input && (o == layer_of_.end() || o->second >= conv_index)) continue;
        conv->post.push_back({true, {}});
        conv->inputs.push_back(other);
        rename(x, "Add");
        return;
      }
    }
    // Broadcast only of the second operand over the first's shape (SE blocks: N x C x 1 x 1).
    if (dims(vb) != dims(va)) {
      auto fits = [&](int big, int small) {
        if (dims(big).size() != dims(small).size()) return false;
        for (std::size_t i = 0; i < dims(big).size(); ++i)
          if (dims(small)[i] != dims(big)[i] && dims(small)[i] != 1) return false;
        return true;
      };
      if (fits(vb, va))
        std::swap(va, vb);
      else if (!fits(va, vb))
        decline("the operands' shapes do not broadcast as supported");
    }
    Layer l;
    l.kind = Kind::Binary;
    l.what = op;
    l.alg = op == "Add" ? algorithm::binary_add : algorithm::binary_mul;
    l.inputs = {va, vb};
    add_layer(std::move(l), dims(va));
  }

  void pool(const std::string& op) {
    const bool max = op == "MaxPool";
    if (max)
      only_attrs({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
    else
      only_attrs({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
    one_output();
    if (attr_i("storage_order", 0) != 0) decline("storage_order 1 is not supported");
    auto [src_name, extra] = take_pad();
    const bool padded = extra != std::vector<std::int64_t>(4, 0);
    if (padded && max) decline("a Pad of zeros before MaxPool is not supported");
    auto it = ids_.find(src_name);
    if (it == ids_.end()) value(0);
    const int v = it->second;
    const auto& in = dims(v);
    if (in.size() != 3) decline("only N x C x H x W inputs are supported");
    const auto ks = attr_ints("kernel_shape", {});
    Window win = window(ks, extra);
    if (win.dilates != dnnl::memory::dims{0, 0}) decline("dilated pooling is not supported");
    bool include_pad = attr_i("count_include_pad", 0) != 0;
    if (padded) {
      const auto own = attr_ints("pads", {0, 0, 0, 0});
      if (!include_pad && own != std::vector<std::int64_t>(4, 0))
        decline("a Pad before an AveragePool with its own pads and count_include_pad 0");
      include_pad = true;  // the Pad's zeros are counted
    }
    std::int64_t oh = out_size(in[1], ks[0], win.strides[0], 0, win.pad_l[0], win.pad_r[0]);
    std::int64_t ow = out_size(in[2], ks[1], win.strides[1], 0, win.pad_l[1], win.pad_r[1]);
    if (attr_i("ceil_mode", 0) != 0) {
      // Output sizes rounded up (the last window may start in the right padding only as PyTorch's
      // rule allows); the windows past the input get extra right padding, which MaxPool ignores.
      auto ceil_out = [&](std::int64_t n, std::int64_t k, std::int64_t s, std::int64_t pl, std::int64_t pr) {
        std::int64_t o = (n + pl + pr - k + s - 1) / s + 1;
        if ((o - 1) * s >= n + pl) --o;
        return o;
      };
      const std::int64_t ch = ceil_out(in[1], ks[0], win.strides[0], win.pad_l[0], win.pad_r[0]);
      const std::int64_t cw = ceil_out(in[2], ks[1], win.strides[1], win.pad_l[1], win.pad_r[1]);
      if ((ch != oh || cw != ow) && !max) decline("ceil_mode that changes the output size of an AveragePool");
      win.pad_r[0] += (ch - oh) * win.strides[0];
      win.pad_r[1] += (cw - ow) * win.strides[1];
      oh = ch;
      ow = cw;
    }
    Layer l;
    l.kind = Kind::Pool;
    l.what = padded ? "Pad+" + op : op;
    l.alg = max           ? algorithm::pooling_max
            : include_pad ? algorithm::pooling_avg_include_padding
                          : algorithm::pooling_avg_exclude_padding;
    l.inputs = {v};
    l.kernel = win.kernel;
    l.strides = win.strides;
    l.pad_l = win.pad_l;
    l.pad_r = win.pad_r;
    add_layer(std::move(l), {in[0], oh, ow});
  }

  void global_pool(const std::string& op) {
    only_attrs({});
    const int v = value(0);
    const auto& in = dims(v);
    if (in.size() != 3) decline("only N x C x H x W inputs are supported");
    Layer l;
    l.kind = Kind::Pool;
    l.what = op;
    l.alg = op == "GlobalMaxPool" ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
    l.inputs = {v};
    l.kernel = {in[1], in[2]};
    l.strides = {1, 1};
    l.pad_l = {0, 0};
    l.pad_r = {0, 0};
    add_layer(std::move(l), {in[0], 1, 1});
  }

  // ReduceMean over H and W (MnasNet's head): a global average pooling, then N x C unless keepdims.
  void reduce_mean() {
    only_attrs({"axes", "keepdims", "noop_with_empty_axes"});
    std::vector<std::int64_t> axes = attr_ints("axes", {});
    if (node_->input_size() > 1 && !node_->input(1).empty()) axes = constant(1).i;
    const int v = value(0);
    const auto& in = dims(v);
    if (in.size() != 3) decline("only N x C x H x W inputs are supported");
    for (auto& a : axes)
      if (a < 0) a += 4;
    std::sort(axes.begin(), axes.end());
    if (axes != std::vector<std::int64_t>{2, 3}) decline("only the mean over H and W is supported");
    Layer l;
    l.kind = Kind::Pool;
    l.what = "ReduceMean";
    l.alg = algorithm::pooling_avg_exclude_padding;
    l.inputs = {v};
    l.kernel = {in[1], in[2]};
    l.strides = {1, 1};
    l.pad_l = {0, 0};
    l.pad_r = {0, 0};
    const int pooled = add_layer(std::move(l), {in[0], 1, 1});
    if (attr_i("keepdims", 1) == 0) flatten(pooled, "ReduceMean");
  }

  void flatten(int v, const std::string& what) {
    std::int64_t k = 1;
    for (auto d : dims(v)) k *= d;
    if (dims(v).size() == 1) {  // already N x K
      bind(node_->output(0), v);
      --vuses_[v];
      return;
    }
    Layer l;
    l.kind = Kind::Flatten;
    l.what = what;
    l.inputs = {v};
    add_layer(std::move(l), {k});
  }

  void reshape() {
    only_attrs({"allowzero"});
    const int v = value(0);
    const Const& s = constant(1);
    if (!s.is_int || s.i.size() != 2) decline("only a reshape to N x K is supported");
    std::int64_t k = 1;
    for (auto d : dims(v)) k *= d;
    // The batch axis kept: 0, -1, or the file's fixed batch (every call then holds that many images).
    const bool batch_kept = s.i[0] == 0 || s.i[0] == -1 || (fixed_batch_ > 0 && s.i[0] == fixed_batch_);
    const bool rest = s.i[1] == k || (s.i[1] == -1 && s.i[0] != -1);
    if (!batch_kept || !rest) decline("only a reshape to N x K is supported");
    flatten(v, "Reshape");
  }

  void inner_product(int v, Const w, bool transposed, float alpha, const std::vector<float>* bias,
                     const std::string& what) {
    if (dims(v).size() != 1) decline("the input must be N x K");
    const std::int64_t in = dims(v)[0];
    if (w.is_int || w.dims.size() != 2) decline("the weights must be a 2-D float constant");
    const std::int64_t k = transposed ? w.dims[0] : w.dims[1];
    if ((transposed ? w.dims[1] : w.dims[0]) != in) decline("the weights do not fit the input");
    Layer l;
    l.kind = Kind::InnerProduct;
    l.what = what;
    l.inputs = {v};
    l.weights = std::move(w.f);
    if (alpha != 1.0f)
      for (auto& x : l.weights) x *= alpha;
    l.weight_dims = {k, in};
    l.weights_io = !transposed;
    l.bias.assign(static_cast<std::size_t>(k), 0.0f);
    if (bias) {
      if (bias->size() != static_cast<std::size_t>(k)) decline("the bias does not fit the weights");
      l.bias = *bias;
    }
    add_layer(std::move(l), {k});
  }

  void gemm() {
    only_attrs({"alpha", "beta", "transA", "transB"});
    if (attr_i("transA", 0) != 0) decline("transA is not supported");
    const float alpha = attr_f("alpha", 1.0f), beta = attr_f("beta", 1.0f);
    std::vector<float> bias;
    if (node_->input_size() > 2 && !node_->input(2).empty()) {
      const Const& c = constant(2);
      if (c.is_int || c.dims.size() > 2 || (c.dims.size() == 2 && c.dims[0] != 1))
        decline("C must be a constant of K or 1 x K values");
      for (float x : c.f) bias.push_back(beta * x);
    }
    Const w = constant(1);
    inner_product(value(0), std::move(w), attr_i("transB", 0) != 0, alpha, bias.empty() ? nullptr : &bias, "Gemm");
  }

  void matmul() {
    only_attrs({});
    inner_product(value(0), constant(1), false, 1.0f, nullptr, "MatMul");
  }

  void concat() {
    only_attrs({"axis"});
    std::vector<int> in;
    for (int i = 0; i < node_->input_size(); ++i) in.push_back(value(i));
    const auto& d0 = dims(in[0]);
    std::int64_t axis = attr_i("axis", 1);
    if (axis < 0) axis += static_cast<std::int64_t>(d0.size()) + 1;
    if (axis != 1) decline("only concatenation along the channels is supported");
    std::vector<std::int64_t> out = d0;
    out[0] = 0;
    for (int v : in) {
      const auto& d = dims(v);
      if (d.size() != d0.size() || !std::equal(d.begin() + 1, d.end(), d0.begin() + 1))
        decline("the inputs' shapes differ");
      out[0] += d[0];
    }
    Layer l;
    l.kind = Kind::Concat;
    l.what = "Concat";
    l.inputs = in;
    add_layer(std::move(l), out);
  }

  void softmax() {
    only_attrs({"axis"});
    const int v = value(0);
    if (dims(v).size() != 1) decline("only a softmax over N x K is supported");
    const std::int64_t axis = attr_i("axis", model_opset() >= 13 ? -1 : 1);
    if (axis != 1 && axis != -1) decline("only a softmax over the class axis is supported");
    Layer l;
    l.kind = Kind::Softmax;
    l.what = "Softmax";
    l.inputs = {v};
    add_layer(std::move(l), dims(v));
  }

  // Pad of zeros over H and W: folded into the Conv or AveragePool that reads it (take_pad).
  void pad() {
    only_attrs({"mode", "pads", "value"});
    if (attr_s("mode", "constant") != "constant") decline("only constant padding is supported");
    std::vector<std::int64_t> p = attr_ints("pads", {});
    float fill = attr_f("value", 0.0f);
    if (node_->input_size() > 1 && !node_->input(1).empty()) p = constant(1).i;
    if (node_->input_size() > 2 && !node_->input(2).empty()) {
      const Const& c = constant(2);
      if (c.is_int || c.f.size() != 1) decline("the pad value must be a float scalar");
      fill = c.f[0];
    }
    if (node_->input_size() > 3) decline("the axes input is not supported");
    if (fill != 0.0f) decline("only padding with zeros is supported");
    const int v = value(0);
    if (dims(v).size() != 3 || p.size() != 8 || p[0] || p[1] || p[4] || p[5])
      decline("only padding of H and W of N x C x H x W is supported");
    for (auto x : p)
      if (x < 0) decline("negative pads are not supported");
    pads_[node_->output(0)] = {node_->input(0), {p[2], p[3], p[6], p[7]}};
  }

  std::int64_t model_opset() const {
    std::int64_t opset = 0;
    for (const auto& o : model_.proto().opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
    return opset;
  }

  const OnnxModel& model_;
  std::int64_t fixed_batch_ = 0;  // the file's fixed batch size, 0 if the batch axis is free
  Graph g_;
  const onnx::NodeProto* node_ = nullptr;
  int k_ = 0;                           // index of node_
  std::unordered_map<int, int> vuses_;  // value id -> its readers
  std::string where_;
  std::unordered_map<std::string, Const> consts_;  // Constant nodes' values
  std::unordered_map<std::string, const onnx::TensorProto*> inits_;
  std::unordered_map<std::string, onnx::TensorProto*> owned_;       // consume(): the model's initializers
  mutable std::unordered_map<std::string, std::set<int>> readers_;  // initializer -> nodes that read it
  std::unordered_map<std::string, int> ids_;                        // value name -> value id
  std::unordered_map<std::string, int> uses_;                       // readers of each name (graph output: one)
  std::unordered_map<std::string, int> producer_;                   // name -> node index
  std::unordered_map<int, int> layer_of_;                           // value id -> the layer that writes it
  std::map<int, std::pair<std::string, Eltwise>> swish_;            // Mul node index -> (x, the eltwise)
  std::set<int> skipped_;
  std::unordered_map<std::string, std::pair<std::string, std::vector<std::int64_t>>> pads_;
};

}  // namespace

Graph lower_graph(const OnnxModel& model, const ModelSpec& spec) { return Lowering(model, spec).run(spec); }

Graph lower_graph_consuming(OnnxModel& model, const ModelSpec& spec) {
  Lowering l(model, spec);
  l.consume(&model.mutable_proto());
  return l.run(spec);
}

const std::vector<std::string>& supported_operators() {
  static const std::vector<std::string> ops = {"Add",           "AveragePool", "BatchNormalization",
                                               "Clip",          "Concat",      "Constant",
                                               "Conv",          "Div",         "Dropout",
                                               "Flatten",       "Gemm",        "GlobalAveragePool",
                                               "GlobalMaxPool", "HardSigmoid", "HardSwish",
                                               "Identity",      "LeakyRelu",   "MatMul",
                                               "MaxPool",       "Mul",         "Pad",
                                               "ReduceMean",    "Relu",        "Reshape",
                                               "Sigmoid",       "Softmax",     "Sub",
                                               "Tanh"};
  return ops;
}

}  // namespace fool::onednn
