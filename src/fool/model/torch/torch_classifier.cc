// TorchClassifier: an interpreter that maps each ONNX node onto ATen operations.
#include "fool/model/torch/torch_classifier.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <onnx/onnx_pb.h>
#include <torch/csrc/autograd/autograd.h>

#include <functional>
#include <map>
#include <unordered_map>

#include "fool/core/error.h"
#include "fool/model/onnx/onnx_model.h"

namespace fool {
namespace {

using Tensors = std::vector<at::Tensor>;

at::Tensor tensor_from_proto(const onnx::TensorProto& t, const std::string& where) {
  std::vector<std::int64_t> dims(t.dims().begin(), t.dims().end());
  std::int64_t count = 1;
  for (auto d : dims) count *= d;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    throw Error(where + ": tensor '" + t.name() + "' keeps its data in an external file, which fool does not read");
  }
  const bool raw = t.has_raw_data();
  auto from_raw = [&](at::ScalarType type, std::size_t elem) {
    if (t.raw_data().size() != static_cast<std::size_t>(count) * elem) {
      throw Error(where + ": tensor '" + t.name() + "' has " + std::to_string(t.raw_data().size()) +
                  " bytes of data for its shape");
    }
    return at::from_blob(const_cast<char*>(t.raw_data().data()), dims, at::TensorOptions().dtype(type)).clone();
  };
  auto check_count = [&](int have) {
    if (have != count) throw Error(where + ": tensor '" + t.name() + "' has " + std::to_string(have) + " values for its shape");
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (raw) return from_raw(at::kFloat, 4);
      check_count(t.float_data_size());
      return at::from_blob(const_cast<float*>(t.float_data().data()), dims, at::kFloat).clone();
    case onnx::TensorProto::DOUBLE:
      if (raw) return from_raw(at::kDouble, 8).to(at::kFloat);
      check_count(t.double_data_size());
      return at::from_blob(const_cast<double*>(t.double_data().data()), dims, at::kDouble).to(at::kFloat);
    case onnx::TensorProto::INT64:
      if (raw) return from_raw(at::kLong, 8);
      check_count(t.int64_data_size());
      return at::from_blob(const_cast<std::int64_t*>(t.int64_data().data()), dims, at::kLong).clone();
    case onnx::TensorProto::INT32:
      if (raw) return from_raw(at::kInt, 4).to(at::kLong);
      check_count(t.int32_data_size());
      return at::from_blob(const_cast<std::int32_t*>(t.int32_data().data()), dims, at::kInt).to(at::kLong);
    case onnx::TensorProto::BOOL:
      if (raw) return from_raw(at::kBool, 1);
      check_count(t.int32_data_size());
      return at::from_blob(const_cast<std::int32_t*>(t.int32_data().data()), dims, at::kInt).to(at::kBool);
    default:
      throw Error(where + ": tensor '" + t.name() + "' has ONNX data type " + std::to_string(t.data_type()) +
                  ", which fool does not support");
  }
}

// One node with its attributes, ready to run.
struct Node {
  const onnx::NodeProto* proto;
  std::map<std::string, const onnx::AttributeProto*> attrs;
  std::int64_t opset;
  std::string where;  // "model.onnx: node 'name' (Op)"

  bool has(const std::string& k) const { return attrs.count(k) != 0; }
  std::int64_t i(const std::string& k, std::int64_t def) const { return has(k) ? attrs.at(k)->i() : def; }
  float f(const std::string& k, float def) const { return has(k) ? attrs.at(k)->f() : def; }
  std::string s(const std::string& k, const std::string& def) const { return has(k) ? attrs.at(k)->s() : def; }
  std::vector<std::int64_t> ints(const std::string& k, std::vector<std::int64_t> def = {}) const {
    if (!has(k)) return def;
    return {attrs.at(k)->ints().begin(), attrs.at(k)->ints().end()};
  }
  Error error(const std::string& what) const { return Error(where + ": " + what); }
};

std::int64_t norm_axis(std::int64_t axis, std::int64_t rank) { return axis < 0 ? axis + rank : axis; }

std::vector<std::int64_t> to_ints(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return {c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel()};
}

const at::Tensor& in(const Node& n, const Tensors& x, std::size_t k) {
  if (k >= x.size() || !x[k].defined()) throw n.error("missing input " + std::to_string(k));
  return x[k];
}
bool present(const Tensors& x, std::size_t k) { return k < x.size() && x[k].defined(); }

// Spatial padding of a 4-D tensor given ONNX pads [top, left, bottom, right].
at::Tensor pad_spatial(const at::Tensor& x, const std::vector<std::int64_t>& pads, double value) {
  return at::constant_pad_nd(x, {pads[1], pads[3], pads[0], pads[2]}, value);
}

void need_4d(const Node& n, const at::Tensor& x) {
  if (x.dim() != 4) throw n.error("only 2-D spatial inputs (N x C x H x W) are supported, got rank " + std::to_string(x.dim()));
}

std::vector<std::int64_t> pads_of(const Node& n) {
  const std::string ap = n.s("auto_pad", "NOTSET");
  if (ap != "NOTSET" && ap != "VALID") throw n.error("auto_pad " + ap + " is not supported");
  auto p = n.ints("pads", {0, 0, 0, 0});
  if (p.size() != 4) throw n.error("expected 4 pads");
  return p;
}
bool symmetric(const std::vector<std::int64_t>& p) { return p[0] == p[2] && p[1] == p[3]; }

using OpFn = std::function<Tensors(const Node&, const Tensors&)>;

at::Tensor unary(const Node& n, const Tensors& x, at::Tensor (*f)(const at::Tensor&)) { return f(in(n, x, 0)); }

const std::map<std::string, OpFn>& ops() {
  static const std::map<std::string, OpFn> table = {
      {"Conv",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         need_4d(n, X);
         auto pads = pads_of(n);
         const auto strides = n.ints("strides", {1, 1});
         const auto dil = n.ints("dilations", {1, 1});
         const at::Tensor b = present(x, 2) ? x[2] : at::Tensor();
         const std::vector<std::int64_t> none{0, 0}, sym{pads[0], pads[1]};
         if (symmetric(pads)) return {at::conv2d(X, x[1], b, strides, sym, dil, n.i("group", 1))};
         return {at::conv2d(pad_spatial(X, pads, 0.0), x[1], b, strides, none, dil, n.i("group", 1))};
       }},
      {"MaxPool",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         need_4d(n, X);
         auto pads = pads_of(n);
         const auto k = n.ints("kernel_shape");
         const auto s = n.ints("strides", {1, 1});
         const auto d = n.ints("dilations", {1, 1});
         if (n.proto->output_size() > 1) throw n.error("MaxPool with an Indices output is not supported");
         if (symmetric(pads)) return {at::max_pool2d(X, k, s, {pads[0], pads[1]}, d, n.i("ceil_mode", 0) != 0)};
         return {at::max_pool2d(pad_spatial(X, pads, -INFINITY), k, s, {0, 0}, d, n.i("ceil_mode", 0) != 0)};
       }},
      {"AveragePool",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         need_4d(n, X);
         auto pads = pads_of(n);
         const bool include = n.i("count_include_pad", 0) != 0;
         if (!symmetric(pads)) throw n.error("asymmetric AveragePool padding is not supported");
         return {at::avg_pool2d(X, n.ints("kernel_shape"), n.ints("strides", {1, 1}), {pads[0], pads[1]},
                                n.i("ceil_mode", 0) != 0, include)};
       }},
      {"GlobalAveragePool", [](const Node& n, const Tensors& x) -> Tensors { return {in(n, x, 0).mean({2, 3}, true)}; }},
      {"GlobalMaxPool", [](const Node& n, const Tensors& x) -> Tensors { return {in(n, x, 0).amax({2, 3}, true)}; }},
      {"BatchNormalization",
       [](const Node& n, const Tensors& x) -> Tensors {
         return {at::batch_norm(in(n, x, 0), in(n, x, 1), in(n, x, 2), in(n, x, 3), in(n, x, 4), false, 0.0,
                                n.f("epsilon", 1e-5f), false)};
       }},
      {"LRN",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         need_4d(n, X);
         const std::int64_t size = n.i("size", 1);
         const double alpha = n.f("alpha", 1e-4f), beta = n.f("beta", 0.75f), bias = n.f("bias", 1.0f);
         const std::int64_t front = (size - 1) / 2, back = size - 1 - front;
         auto sq = at::constant_pad_nd((X * X).unsqueeze(1), {0, 0, 0, 0, front, back}, 0.0);
         auto sum = at::avg_pool3d(sq, {size, 1, 1}, {1, 1, 1}).squeeze(1) * static_cast<double>(size);
         return {X / at::pow(sum * (alpha / static_cast<double>(size)) + bias, beta)};
       }},
      {"Concat",
       [](const Node& n, const Tensors& x) -> Tensors {
         Tensors parts;
         for (const auto& t : x)
           if (t.defined()) parts.push_back(t);
         if (parts.empty()) throw n.error("no inputs");
         return {at::cat(parts, norm_axis(n.i("axis", 0), parts[0].dim()))};
       }},
      {"Flatten",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         const auto axis = norm_axis(n.i("axis", 1), X.dim());
         std::int64_t outer = 1;
         for (std::int64_t d = 0; d < axis; ++d) outer *= X.size(d);
         return {X.reshape({outer, -1})};
       }},
      {"Reshape",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         auto shape = to_ints(in(n, x, 1));
         const bool allowzero = n.i("allowzero", 0) != 0;
         for (std::size_t d = 0; d < shape.size(); ++d)
           if (shape[d] == 0 && !allowzero) shape[d] = X.size(static_cast<std::int64_t>(d));
         return {X.reshape(shape)};
       }},
      {"Softmax",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         if (n.opset >= 13) return {at::softmax(X, norm_axis(n.i("axis", -1), X.dim()))};
         const auto axis = norm_axis(n.i("axis", 1), X.dim());
         std::int64_t outer = 1;
         for (std::int64_t d = 0; d < axis; ++d) outer *= X.size(d);
         return {at::softmax(X.reshape({outer, -1}), 1).reshape(X.sizes())};
       }},
      {"Dropout", [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         if (n.proto->output_size() > 1) return {X, at::ones_like(X, at::kBool)};
         return {X};
       }},
      {"Identity", [](const Node& n, const Tensors& x) -> Tensors { return {in(n, x, 0)}; }},
      {"Add", [](const Node& n, const Tensors& x) -> Tensors { return {in(n, x, 0) + in(n, x, 1)}; }},
      {"Sub", [](const Node& n, const Tensors& x) -> Tensors { return {in(n, x, 0) - in(n, x, 1)}; }},
      {"Mul", [](const Node& n, const Tensors& x) -> Tensors { return {in(n, x, 0) * in(n, x, 1)}; }},
      {"Div",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& a = in(n, x, 0);
         if (at::isIntegralType(a.scalar_type(), false)) return {at::div(a, in(n, x, 1), "trunc")};
         return {a / in(n, x, 1)};
       }},
      {"Relu", [](const Node& n, const Tensors& x) -> Tensors { return {unary(n, x, at::relu)}; }},
      {"Sigmoid", [](const Node& n, const Tensors& x) -> Tensors { return {unary(n, x, at::sigmoid)}; }},
      {"Tanh", [](const Node& n, const Tensors& x) -> Tensors { return {unary(n, x, at::tanh)}; }},
      {"Exp", [](const Node& n, const Tensors& x) -> Tensors { return {unary(n, x, at::exp)}; }},
      {"Sqrt", [](const Node& n, const Tensors& x) -> Tensors { return {unary(n, x, at::sqrt)}; }},
      {"Neg", [](const Node& n, const Tensors& x) -> Tensors { return {unary(n, x, at::neg)}; }},
      {"LeakyRelu",
       [](const Node& n, const Tensors& x) -> Tensors { return {at::leaky_relu(in(n, x, 0), n.f("alpha", 0.01f))}; }},
      {"Clip",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         c10::optional<at::Scalar> lo, hi;
         if (n.opset < 11) {
           if (n.has("min")) lo = n.f("min", 0.0f);
           if (n.has("max")) hi = n.f("max", 0.0f);
         } else {
           if (present(x, 1)) lo = x[1].item<double>();
           if (present(x, 2)) hi = x[2].item<double>();
         }
         if (!lo && !hi) return {X};
         return {at::clamp(X, lo, hi)};
       }},
      {"Constant",
       [](const Node& n, const Tensors&) -> Tensors {
         if (n.has("value")) return {tensor_from_proto(n.attrs.at("value")->t(), n.where)};
         if (n.has("value_float")) return {at::scalar_tensor(n.f("value_float", 0), at::kFloat)};
         if (n.has("value_int")) return {at::scalar_tensor(n.i("value_int", 0), at::kLong)};
         if (n.has("value_ints")) {
           auto v = n.ints("value_ints");
           return {at::tensor(v, at::kLong)};
         }
         if (n.has("value_floats")) {
           const auto& a = n.attrs.at("value_floats")->floats();
           return {at::tensor(std::vector<float>(a.begin(), a.end()), at::kFloat)};
         }
         throw n.error("Constant without a supported value attribute");
       }},
      {"Transpose",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         std::vector<std::int64_t> perm = n.ints("perm");
         if (perm.empty())
           for (std::int64_t d = X.dim() - 1; d >= 0; --d) perm.push_back(d);
         return {X.permute(perm)};
       }},
      {"Squeeze",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         std::vector<std::int64_t> axes = n.opset >= 13 ? (present(x, 1) ? to_ints(x[1]) : std::vector<std::int64_t>{})
                                                        : n.ints("axes");
         if (axes.empty()) return {X.squeeze()};
         for (auto& a : axes) a = norm_axis(a, X.dim());
         std::sort(axes.rbegin(), axes.rend());
         at::Tensor y = X;
         for (auto a : axes) y = y.squeeze(a);
         return {y};
       }},
      {"Unsqueeze",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         std::vector<std::int64_t> axes = n.opset >= 13 ? to_ints(in(n, x, 1)) : n.ints("axes");
         const auto rank = X.dim() + static_cast<std::int64_t>(axes.size());
         for (auto& a : axes) a = norm_axis(a, rank);
         std::sort(axes.begin(), axes.end());
         at::Tensor y = X;
         for (auto a : axes) y = y.unsqueeze(a);
         return {y};
       }},
      {"Pad",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         std::vector<std::int64_t> pads = n.opset >= 11 ? to_ints(in(n, x, 1)) : n.ints("pads");
         const double value = n.opset >= 11 ? (present(x, 2) ? x[2].item<double>() : 0.0) : n.f("value", 0.0f);
         const std::string mode = n.s("mode", "constant");
         const auto rank = X.dim();
         if (static_cast<std::int64_t>(pads.size()) != 2 * rank) throw n.error("pads must have 2 x rank values");
         std::vector<std::int64_t> tp;  // torch order: last dim first, (begin, end)
         for (std::int64_t d = rank - 1; d >= 0; --d) {
           tp.push_back(pads[static_cast<std::size_t>(d)]);
           tp.push_back(pads[static_cast<std::size_t>(d + rank)]);
         }
         if (mode == "constant") return {at::constant_pad_nd(X, tp, value)};
         if (rank != 4 || tp[4] || tp[5] || tp[6] || tp[7]) throw n.error(mode + " padding only over H and W of a 4-D input");
         std::vector<std::int64_t> sp(tp.begin(), tp.begin() + 4);
         if (mode == "reflect") return {at::reflection_pad2d(X, sp)};
         if (mode == "edge") return {at::replication_pad2d(X, sp)};
         throw n.error("pad mode '" + mode + "' is not supported");
       }},
      {"Gemm",
       [](const Node& n, const Tensors& x) -> Tensors {
         at::Tensor a = in(n, x, 0), b = in(n, x, 1);
         if (n.i("transA", 0)) a = a.t();
         if (n.i("transB", 0)) b = b.t();
         at::Tensor y = at::matmul(a, b);
         const double alpha = n.f("alpha", 1.0f), beta = n.f("beta", 1.0f);
         if (alpha != 1.0) y = y * alpha;
         if (present(x, 2)) y = y + (beta == 1.0 ? x[2] : x[2] * beta);
         return {y};
       }},
      {"MatMul", [](const Node& n, const Tensors& x) -> Tensors { return {at::matmul(in(n, x, 0), in(n, x, 1))}; }},
      {"Shape",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto s = in(n, x, 0).sizes();
         return {at::tensor(std::vector<std::int64_t>(s.begin(), s.end()), at::kLong)};
       }},
      {"Gather",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         const auto axis = norm_axis(n.i("axis", 0), X.dim());
         at::Tensor idx = in(n, x, 1).to(at::kLong);
         idx = at::where(idx < 0, idx + X.size(axis), idx);
         if (idx.dim() == 0) return {X.select(axis, idx.item<std::int64_t>())};
         at::Tensor flat = X.index_select(axis, idx.flatten());
         std::vector<std::int64_t> shape(X.sizes().begin(), X.sizes().begin() + axis);
         for (auto d : idx.sizes()) shape.push_back(d);
         for (auto d = axis + 1; d < X.dim(); ++d) shape.push_back(X.size(d));
         return {flat.reshape(shape)};
       }},
      {"Cast",
       [](const Node& n, const Tensors& x) -> Tensors {
         switch (n.i("to", 1)) {
           case onnx::TensorProto::FLOAT: return {in(n, x, 0).to(at::kFloat)};
           case onnx::TensorProto::INT64: return {in(n, x, 0).to(at::kLong)};
           case onnx::TensorProto::INT32: return {in(n, x, 0).to(at::kLong)};
           case onnx::TensorProto::BOOL: return {in(n, x, 0).to(at::kBool)};
           default: throw n.error("Cast to ONNX type " + std::to_string(n.i("to", 1)) + " is not supported");
         }
       }},
      {"ReduceMean",
       [](const Node& n, const Tensors& x) -> Tensors {
         const auto& X = in(n, x, 0);
         auto axes = n.ints("axes");
         if (axes.empty())
           for (std::int64_t d = 0; d < X.dim(); ++d) axes.push_back(d);
         return {X.mean(axes, n.i("keepdims", 1) != 0)};
       }},
  };
  return table;
}

// The graph as a list of nodes with their resolved runners, and the weights as tensors.
class Interpreter {
 public:
  explicit Interpreter(const OnnxModel& model) {
    const auto& proto = model.proto();
    const auto& g = proto.graph();
    std::int64_t opset = 0;
    for (const auto& op : proto.opset_import())
      if (op.domain().empty() || op.domain() == "ai.onnx") opset = op.version();
    for (const auto& t : g.initializer()) constants_[t.name()] = tensor_from_proto(t, model.path());
    for (const auto& np : g.node()) {
      Node n;
      n.proto = &np;
      n.opset = opset;
      n.where = model.path() + ": node '" + (np.name().empty() ? np.output(0) : np.name()) + "' (" + np.op_type() + ")";
      if (!np.domain().empty() && np.domain() != "ai.onnx") {
        throw Error(model.path() + ": operator '" + np.domain() + "." + np.op_type() + "' of node '" + np.name() +
                    "' is not supported by the torch backend");
      }
      auto it = ops().find(np.op_type());
      if (it == ops().end()) {
        throw Error(model.path() + ": operator '" + np.op_type() + "' of node '" + np.name() +
                    "' is not supported by the torch backend");
      }
      for (const auto& a : np.attribute()) n.attrs[a.name()] = &a;
      runners_.push_back(it->second);
      nodes_.push_back(std::move(n));
    }
    output_ = g.output(0).name();
  }

  at::Tensor run(const std::string& input_name, const at::Tensor& input) const {
    std::unordered_map<std::string, at::Tensor> values(constants_.begin(), constants_.end());
    values[input_name] = input;
    for (std::size_t k = 0; k < nodes_.size(); ++k) {
      const Node& n = nodes_[k];
      Tensors args;
      for (const auto& name : n.proto->input()) {
        if (name.empty()) {
          args.emplace_back();
          continue;
        }
        auto it = values.find(name);
        if (it == values.end()) throw n.error("input '" + name + "' is not produced by any earlier node");
        args.push_back(it->second);
      }
      Tensors outs;
      try {
        outs = runners_[k](n, args);
      } catch (const c10::Error& e) {
        throw n.error(std::string(e.what_without_backtrace()).substr(0, 300));
      }
      for (int o = 0; o < n.proto->output_size() && o < static_cast<int>(outs.size()); ++o)
        values[n.proto->output(o)] = outs[static_cast<std::size_t>(o)];
    }
    auto it = values.find(output_);
    if (it == values.end()) throw Error("graph output '" + output_ + "' was never produced");
    return it->second;
  }

 private:
  std::unordered_map<std::string, at::Tensor> constants_;
  std::vector<Node> nodes_;
  std::vector<OpFn> runners_;
  std::string output_;  // nodes_ point into the ModelProto, which the owning classifier keeps alive
};

class TorchClassifier : public DifferentiableClassifier {
 public:
  TorchClassifier(OnnxModel model, const ClassifierOptions& options)
      : model_(std::move(model)), spec_(model_.spec(options.overrides)), graph_(model_) {
    if (options.threads > 0) at::set_num_threads(options.threads);
    const auto& pre = spec_.preprocessing;
    const auto c = spec_.input.channels;
    std::vector<float> a(static_cast<std::size_t>(c)), b(static_cast<std::size_t>(c));
    for (int ch = 0; ch < c; ++ch) {
      const float mean = pre.mean.empty() ? 0.0f : pre.mean[static_cast<std::size_t>(ch)];
      const float inv_std = pre.std.empty() ? 1.0f : 1.0f / pre.std[static_cast<std::size_t>(ch)];
      a[static_cast<std::size_t>(ch)] = pre.scale * inv_std;
      b[static_cast<std::size_t>(ch)] = -mean * inv_std;
    }
    scale_ = at::tensor(a).view({1, c, 1, 1});
    shift_ = at::tensor(b).view({1, c, 1, 1});
    flip_ = c == 3 && pre.channel_order == "bgr";
  }

  const ModelSpec& spec() const override { return spec_; }
  Backend backend() const override { return Backend::Torch; }

  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec_, images);
    if (images.size() == 0) return Matrix(0, static_cast<std::size_t>(spec_.num_classes));
    c10::InferenceMode guard;
    return to_matrix(forward(as_tensor(images)), images.size());
  }

  Matrix probabilities_and_gradients(const ImageBatch& images, const std::vector<int>& targets,
                                     ImageBatch* gradients) override {
    check_batch_shape(spec_, images);
    if (targets.size() != images.size()) throw Error("one target class is needed per image");
    for (int t : targets)
      if (t < 0 || t >= spec_.num_classes) throw Error("target class " + std::to_string(t) + " is out of range");
    at::Tensor x = as_tensor(images).clone().requires_grad_(true);
    at::Tensor p = forward(x);
    std::vector<std::int64_t> idx(targets.begin(), targets.end());
    at::Tensor chosen = p.gather(1, at::tensor(idx, at::kLong).view({-1, 1})).sum();
    auto grads = torch::autograd::grad({chosen}, {x});
    Matrix m = to_matrix(p.detach(), images.size());
    *gradients = ImageBatch(images.size(), images.shape());
    at::Tensor g = grads[0].contiguous();
    std::copy(g.data_ptr<float>(), g.data_ptr<float>() + g.numel(), gradients->data());
    return m;
  }

 private:
  at::Tensor as_tensor(const ImageBatch& images) const {
    return at::from_blob(const_cast<float*>(images.data()),
                         {static_cast<std::int64_t>(images.size()), spec_.input.channels, spec_.input.height,
                          spec_.input.width},
                         at::kFloat);
  }

  // [0,1] images -> model input -> probabilities (N x K).
  at::Tensor forward(const at::Tensor& images) const {
    at::Tensor x = images;
    if (flip_) x = x.flip({1});
    x = x * scale_ + shift_;
    at::Tensor y;
    try {
      y = graph_.run(spec_.input_name, x);
    } catch (const c10::Error& e) {
      throw Error(spec_.path + ": torch backend failed (" + std::string(e.what_without_backtrace()).substr(0, 300) + ")");
    }
    y = y.reshape({images.size(0), -1});
    if (y.size(1) != spec_.num_classes) {
      throw Error(spec_.path + ": model produced " + std::to_string(y.size(1)) + " scores per image, expected " +
                  std::to_string(spec_.num_classes));
    }
    if (!spec_.preprocessing.output_is_probabilities) y = at::softmax(y, 1);
    return y;
  }

  static Matrix to_matrix(const at::Tensor& p, std::size_t n) {
    const at::Tensor c = p.contiguous();
    Matrix m(n, static_cast<std::size_t>(c.size(1)));
    std::copy(c.data_ptr<float>(), c.data_ptr<float>() + c.numel(), m.data());
    return m;
  }

  OnnxModel model_;
  ModelSpec spec_;
  Interpreter graph_;
  at::Tensor scale_, shift_;
  bool flip_ = false;
};

}  // namespace

const std::vector<std::string>& torch_supported_operators() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& kv : ops()) v.push_back(kv.first);
    return v;
  }();
  return names;
}

void check_torch_supports(const OnnxModel& model) {
  for (const auto& np : model.proto().graph().node()) {
    if ((!np.domain().empty() && np.domain() != "ai.onnx") || !ops().count(np.op_type())) {
      throw Error(model.path() + ": operator '" + np.op_type() + "' of node '" + np.name() +
                  "' is not supported by the torch backend");
    }
  }
}

std::unique_ptr<DifferentiableClassifier> make_torch_classifier(OnnxModel model, const ClassifierOptions& options) {
  return std::make_unique<TorchClassifier>(std::move(model), options);
}

}  // namespace fool
