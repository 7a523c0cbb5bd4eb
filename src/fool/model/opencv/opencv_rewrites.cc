// The graph rewrites fool applies before OpenCV 4.6's importer reads a model.
#include "fool/model/opencv/opencv_rewrites.h"

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "fool/core/error.h"
#include "fool/model/onnx/graph_builder.h"

namespace fool {

using onnx_build::inferred_shape;
using onnx_build::int64_tensor;

namespace {

// The value of a one-element float tensor, if `t` is one.
bool scalar_value(const onnx::TensorProto& t, float* out) {
  std::int64_t n = 1;
  for (auto d : t.dims()) n *= d;
  const auto v = onnx_build::tensor_values<float>(t);
  if (n != 1 || !v || v->size() != 1) return false;
  *out = (*v)[0];
  return true;
}

float float_attr(const onnx::NodeProto& n, const std::string& name, float def) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.f();
  return def;
}

using onnx_build::set_float;

// Gemm: alpha folded into a constant B and beta into a constant C (new initializers of `g`), as
// OpenCV honours neither reliably (it drops C when beta != 1, and alpha when beta == 1).
void fold_gemm_factors(onnx::GraphProto* g, const std::map<std::string, onnx::TensorProto*>& inits,
                       onnx::NodeProto* n) {
  for (const auto& [input, attr] : {std::pair<int, const char*>{1, "alpha"}, {2, "beta"}}) {
    const float factor = float_attr(*n, attr, 1.0f);
    if (factor == 1.0f || n->input_size() <= input) continue;
    auto it = inits.find(n->input(input));
    auto v = it == inits.end() ? std::nullopt : onnx_build::tensor_values<float>(*it->second);
    if (!v) continue;
    for (auto& x : *v) x *= factor;
    const std::vector<std::int64_t> dims(it->second->dims().begin(), it->second->dims().end());
    const std::string scaled = it->first + "_times_" + attr + "_" + n->output(0);
    *g->add_initializer() = onnx_build::float_tensor(scaled, dims, v->data(), v->size());
    n->set_input(input, scaled);
    set_float(n, attr, 1.0f);
  }
}

// Clip: constant min/max inputs (opset >= 11, e.g. ReLU6) become the attributes OpenCV reads.
void clip_bounds_to_attributes(const std::map<std::string, const onnx::TensorProto*>& constants, onnx::NodeProto* n) {
  float bounds[2] = {-3.4e38f, 3.4e38f};  // min, max
  for (int k = 1; k < n->input_size() && k <= 2; ++k) {
    if (n->input(k).empty()) continue;
    auto it = constants.find(n->input(k));
    if (it == constants.end() || !scalar_value(*it->second, &bounds[k - 1])) return;
  }
  while (n->input_size() > 1) n->mutable_input()->RemoveLast();
  set_float(n, "min", bounds[0]);
  set_float(n, "max", bounds[1]);
}

// The graph's constants by name: its initializers and the tensors of its Constant nodes.
std::map<std::string, const onnx::TensorProto*> constant_tensors(const onnx::GraphProto& g) {
  std::map<std::string, const onnx::TensorProto*> constants;
  for (const auto& t : g.initializer()) constants[t.name()] = &t;
  for (const auto& n : g.node())
    if (n.op_type() == "Constant" && n.output_size() == 1)
      for (const auto& a : n.attribute())
        if (a.name() == "value") constants[n.output(0)] = &a.t();
  return constants;
}

// Rewrites forms OpenCV 4.6's importer gets wrong into forms it gets right: Gemm's alpha and beta
// (fold_gemm_factors) and Clip's constant bounds (clip_bounds_to_attributes).
void rewrite_for_opencv(onnx::GraphProto* g) {
  std::map<std::string, onnx::TensorProto*> inits;
  for (auto& t : *g->mutable_initializer()) inits[t.name()] = &t;
  const auto constants = constant_tensors(*g);
  for (auto& n : *g->mutable_node()) {
    if (n.op_type() == "Gemm") fold_gemm_factors(g, inits, &n);
    if (n.op_type() == "Clip" && n.input_size() > 1) clip_bounds_to_attributes(constants, &n);
  }
}

// Values of shape d (1 x d[1] x d[2] x d[3], each 1 or the full size) repeated to c x h x w.
void broadcast_values(const std::vector<float>& v, const std::vector<std::int64_t>& d, int c, int h, int w,
                      std::vector<float>* out) {
  out->assign(static_cast<std::size_t>(c) * static_cast<std::size_t>(h) * static_cast<std::size_t>(w), 0.0f);
  for (int ci = 0; ci < c; ++ci)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const std::int64_t src = (d[1] == 1 ? 0 : ci) * d[2] * d[3] + (d[2] == 1 ? 0 : y) * d[3] + (d[3] == 1 ? 0 : x);
        (*out)[(static_cast<std::size_t>(ci) * h + y) * w + x] = v[static_cast<std::size_t>(src)];
      }
}

// The values of a float tensor broadcast to shape (1, c, h, w), or false if it does not broadcast.
bool broadcast_chw(const onnx::TensorProto& t, int c, int h, int w, std::vector<float>* out) {
  if (t.data_type() != onnx::TensorProto::FLOAT || t.dims_size() > 4) return false;
  std::vector<std::int64_t> d(4, 1);
  for (int i = 0; i < t.dims_size(); ++i) {
    const int axis = 4 - t.dims_size() + i;  // the dims aligned to the last axis
    d[static_cast<std::size_t>(axis)] = t.dims(i);
  }
  const std::int64_t full[4] = {1, c, h, w};
  for (int i = 0; i < 4; ++i)
    if (d[static_cast<std::size_t>(i)] != 1 && d[static_cast<std::size_t>(i)] != full[i]) return false;
  const auto values = onnx_build::tensor_values<float>(t);
  if (!values || static_cast<std::int64_t>(values->size()) != d[1] * d[2] * d[3]) return false;
  broadcast_values(*values, d, c, h, w, out);
  return true;
}

// The index of the one node that reads `value`, or -1 if none or several do.
int only_reader(const onnx::GraphProto& g, const std::string& value) {
  int reader = -1, readers = 0;
  for (int i = 0; i < g.node_size(); ++i)
    for (const auto& in : g.node(i).input())
      if (in == value) reader = i, ++readers;
  return readers == 1 ? reader : -1;
}

// The symbol of an elementwise operator fold_input_ops folds, or 0 for any other operator.
char input_op_symbol(const std::string& op_type) {
  static const std::map<std::string, char> kSymbols = {{"Sub", '-'}, {"Div", '/'}, {"Add", '+'}, {"Mul", '*'}};
  const auto it = kSymbols.find(op_type);
  return it == kSymbols.end() ? '\0' : it->second;
}

// Later nodes read `to` where they read `from`.
void read_instead(onnx::GraphProto* g, const std::string& from, const std::string& to) {
  for (auto& m : *g->mutable_node())
    for (int i = 0; i < m.input_size(); ++i)
      if (m.input(i) == from) m.set_input(i, to);
}

bool is_graph_output(const onnx::GraphProto& g, const std::string& name) {
  return std::any_of(g.output().begin(), g.output().end(),
                     [&](const onnx::ValueInfoProto& o) { return o.name() == name; });
}

// Folds leading "input <op> constant" nodes out of the graph (see simplified_for_opencv).
void fold_input_ops(onnx::GraphProto* g, const std::string& input, const ImageShape& shape, std::vector<InputOp>* ops) {
  const auto constants = constant_tensors(*g);
  for (;;) {
    // The one node that reads the input; stop unless it is an elementwise op with a constant.
    const int reader = only_reader(*g, input);
    if (reader < 0) return;
    const auto& n = g->node(reader);
    const char symbol = input_op_symbol(n.op_type());
    if (symbol == '\0' || n.input_size() != 2 || n.input(0) != input) return;
    auto it = constants.find(n.input(1));
    InputOp op;
    if (it == constants.end() || !broadcast_chw(*it->second, shape.channels, shape.height, shape.width, &op.value))
      return;
    op.op = symbol;
    ops->push_back(std::move(op));
    const std::string out = n.output(0);
    g->mutable_node()->DeleteSubrange(reader, 1);
    read_instead(g, out, input);           // later nodes read the graph input where they read the folded node's output
    if (is_graph_output(*g, out)) return;  // the graph is only preprocessing; leave the rest alone
  }
}

using ValueInfos = std::map<std::string, const onnx::ValueInfoProto*>;

// The model after ONNX shape inference, or nothing if inference fails. With `without_weights`,
// inferred on a copy without large float data (inference needs the weights' shapes, not their values).
std::optional<onnx::ModelProto> inferred_shapes(const onnx::ModelProto& m, bool without_weights) {
  onnx::ModelProto inferred = m;
  if (without_weights) {
    for (auto& t : *inferred.mutable_graph()->mutable_initializer())
      if (t.data_type() == onnx::TensorProto::FLOAT && t.raw_data().size() > 4096) t.clear_raw_data();
  }
  try {
    // Data propagation: shapes computed by Shape/Gather/Concat (dynamic reshapes) are inferred too.
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return inferred;
}

// The inferred values by name: the graph's inputs and intermediate values, and with
// `with_outputs` its outputs.
ValueInfos value_infos(const onnx::GraphProto& inferred, bool with_outputs) {
  ValueInfos info;
  for (const auto& v : inferred.input()) info[v.name()] = &v;
  for (const auto& v : inferred.value_info()) info[v.name()] = &v;
  if (with_outputs)
    for (const auto& v : inferred.output()) info[v.name()] = &v;
  return info;
}

// Squeeze-and-excitation (EfficientNet, MobileNetV3, RegNetY): Mul of a per-image channel scale
// [N,C,1,1] by a feature map [N,C,H,W]. OpenCV 4.6 imports it as a Scale layer whose broadcast axis
// it fixes at import time for a batch of one, so a batch of more than one image fails (N*C weights
// against C channels). Rewritten as: both operands reshaped to one image of N*C channels
// ([1,-1,0,0] and [1,-1,1,1]), the Mul (now a Scale over N*C channels, right for any N), and the
// product reshaped back to [-1,C,0,0]. Shapes come from ONNX shape inference on a copy. The steps:
// channel_scale_operand and split_channel_scale, called by rewrite_channel_scales.

// For a Mul of a [N,C,1,1] scale s by a [N,C,H,W] map x (neither a constant, C, H, W known and
// H*W > 1, the same N): the index of s, with *channels = C; else -1.
int channel_scale_operand(const onnx::NodeProto& n, const std::set<std::string>& constants, const ValueInfos& info,
                          std::int64_t* channels) {
  if (n.op_type() != "Mul" || n.input_size() != 2 || n.output_size() != 1) return -1;
  std::vector<std::int64_t> d[2];
  std::vector<std::string> p[2];
  for (int i = 0; i < 2; ++i) {
    const auto it = info.find(n.input(i));
    if (constants.count(n.input(i)) || it == info.end() || !inferred_shape(*it->second, &d[i], &p[i]) ||
        d[i].size() != 4)
      return -1;
  }
  const int si = d[0][2] == 1 && d[0][3] == 1 ? 0 : 1;
  const int xi = 1 - si;
  const auto &s = d[si], &x = d[xi];
  const bool same_batch = (s[0] > 0 && s[0] == x[0]) || (!p[si][0].empty() && p[si][0] == p[xi][0]);
  if (s[2] != 1 || s[3] != 1 || x[2] <= 0 || x[3] <= 0 || x[2] * x[3] <= 1 || s[1] <= 0 || s[1] != x[1] || !same_batch)
    return -1;
  *channels = x[1];
  return si;
}

// Appends to `nodes` the rewrite of Mul node n (scale operand `si`, C `channels`), its target
// shapes added to g's initializers.
void split_channel_scale(const onnx::NodeProto& n, int si, std::int64_t channels, onnx::GraphProto* g,
                         google::protobuf::RepeatedPtrField<onnx::NodeProto>* nodes) {
  const std::string base = n.output(0) + "_fool_se";
  *g->add_initializer() = int64_tensor(base + "_shape_s", {1, -1, 1, 1});
  *g->add_initializer() = int64_tensor(base + "_shape_x", {1, -1, 0, 0});
  *g->add_initializer() = int64_tensor(base + "_shape_y", {-1, channels, 0, 0});
  std::string flat[2];
  for (int i = 0; i < 2; ++i) {
    flat[i] = base + "_in" + std::to_string(i);
    onnx_build::append_node(nodes, "Reshape", base + "_reshape" + std::to_string(i),
                            {n.input(i), base + (i == si ? "_shape_s" : "_shape_x")}, {flat[i]});
  }
  auto* mul = nodes->Add();
  *mul = n;
  mul->set_input(0, flat[0]);
  mul->set_input(1, flat[1]);
  mul->set_output(0, base + "_product");
  onnx_build::append_node(nodes, "Reshape", base + "_reshape_back", {base + "_product", base + "_shape_y"},
                          {n.output(0)});
}

void rewrite_channel_scales(onnx::ModelProto* m) {
  auto* g = m->mutable_graph();
  std::set<std::string> constants;
  for (const auto& t : g->initializer()) constants.insert(t.name());
  bool candidate = false;
  for (const auto& n : g->node()) {
    if (n.op_type() == "Constant") constants.insert(n.output(0));
    candidate = candidate || (n.op_type() == "Mul" && n.input_size() == 2);
  }
  if (!candidate) return;
  const std::optional<onnx::ModelProto> inferred = inferred_shapes(*m, false);
  if (!inferred) return;  // shapes unknown: leave the graph as it is
  const ValueInfos info = value_infos(inferred->graph(), true);
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  int rewritten = 0;
  for (const auto& n : g->node()) {
    std::int64_t channels = 0;
    const int si = channel_scale_operand(n, constants, info, &channels);
    if (si < 0) {
      *nodes.Add() = n;
      continue;
    }
    split_channel_scale(n, si, channels, g, &nodes);
    ++rewritten;
  }
  if (rewritten > 0) g->mutable_node()->Swap(&nodes);
}

// Shape arithmetic (ShuffleNet's channel split and shuffle: Shape -> Gather -> Add/Div/Mul ->
// Slice or Concat -> Reshape) computed here from ONNX shape inference and replaced by constants:
// OpenCV 4.6 folds such integer subgraphs itself but mixes up scalars and one-element tensors, and
// cannot know a dynamic batch. A value that holds the batch size is kept as a marker and allowed only
// at position 0 of a Reshape's target shape, where it becomes 0 ("copy the input's first axis").
// Nodes left without readers are removed. The steps: fold_shape_arithmetic_once below.

// The marker of the batch size in a known value.
constexpr std::int64_t kBatch = std::numeric_limits<std::int64_t>::min();

// An int64 value the folding knows: a scalar or a one-dimensional list.
struct Known {
  std::vector<std::int64_t> v;
  bool scalar = false;
};
using KnownValues = std::map<std::string, Known>;

bool has_op(const onnx::GraphProto& g, const std::string& op) {
  return std::any_of(g.node().begin(), g.node().end(), [&](const onnx::NodeProto& n) { return n.op_type() == op; });
}

// An int64 scalar or list tensor as a known value.
bool int_tensor(const onnx::TensorProto& t, Known* k) {
  if (t.data_type() != onnx::TensorProto::INT64 || t.dims_size() > 1) return false;
  k->scalar = t.dims_size() == 0;
  auto v = onnx_build::tensor_values<std::int64_t>(t);
  if (!v) return false;
  k->v = std::move(*v);
  return true;
}

std::int64_t int_attr(const onnx::NodeProto& n, const std::string& name, std::int64_t def) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return def;
}

// The static shape of value `name` (batch axis and all) after inference, if it is known.
bool inferred_dims(const ValueInfos& info, const std::string& name, std::vector<std::int64_t>* dims) {
  std::vector<std::string> params;
  const auto it = info.find(name);
  return it != info.end() && inferred_shape(*it->second, dims, &params);
}

// The known values a node's output takes, one rule per operator (false: not known).
class ShapeEvaluator {
 public:
  ShapeEvaluator(const ValueInfos& info, const KnownValues& known) : info_(info), known_(known) {}

  bool evaluate(const onnx::NodeProto& n, Known* out) const {
    const std::string& op = n.op_type();
    if (op == "Constant") return constant(n, out);
    if (op == "Shape") return shape(n, out);
    if (op == "Gather") return gather(n, out);
    if (op == "Unsqueeze" || op == "Squeeze" || op == "Cast") return pass_through(n, out);
    if (op == "Concat") return concat(n, out);
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return arithmetic(n, out);
    return false;
  }

 private:
  const Known* get(const onnx::NodeProto& n, int i) const {
    if (i >= n.input_size()) return nullptr;
    const auto it = known_.find(n.input(i));
    return it == known_.end() ? nullptr : &it->second;
  }

  static bool constant(const onnx::NodeProto& n, Known* out) {
    bool ok = false;
    for (const auto& a : n.attribute())
      if (a.name() == "value") ok = int_tensor(a.t(), out);
    return ok;
  }

  // The input's shape; only its first axis (the batch) may be unknown, and is marked kBatch.
  bool shape(const onnx::NodeProto& n, Known* out) const {
    if (n.attribute_size() != 0) return false;
    std::vector<std::int64_t> dims;
    if (!inferred_dims(info_, n.input(0), &dims)) return false;
    for (std::size_t i = 0; i < dims.size(); ++i) {
      if (dims[i] < 0 && i != 0) return false;
      out->v.push_back(dims[i] < 0 ? kBatch : dims[i]);
    }
    return true;
  }

  bool gather(const onnx::NodeProto& n, Known* out) const {
    const Known* data = get(n, 0);
    const Known* indices = get(n, 1);
    if (!data || !indices || int_attr(n, "axis", 0) != 0 || data->scalar) return false;
    out->scalar = indices->scalar;
    const auto size = static_cast<std::int64_t>(data->v.size());
    for (std::int64_t i : indices->v) {
      if (i < 0) i += size;
      if (i < 0 || i >= size) return false;
      out->v.push_back(data->v[static_cast<std::size_t>(i)]);
    }
    return true;
  }

  // Unsqueeze of a scalar is a one-element list; Squeeze of one is a scalar; Cast to int64 keeps it.
  bool pass_through(const onnx::NodeProto& n, Known* out) const {
    const Known* in = get(n, 0);
    if (!in) return false;
    *out = *in;
    const std::string& op = n.op_type();
    bool ok = false;
    if (op == "Cast")
      ok = int_attr(n, "to", 0) == onnx::TensorProto::INT64;
    else if (op == "Unsqueeze")
      ok = out->scalar;
    else
      ok = !out->scalar && out->v.size() == 1;
    out->scalar = op == "Squeeze" || (op == "Cast" && out->scalar);
    return ok;
  }

  bool concat(const onnx::NodeProto& n, Known* out) const {
    if (int_attr(n, "axis", 0) != 0) return false;
    for (int i = 0; i < n.input_size(); ++i) {
      const Known* k = get(n, i);
      if (!k || k->scalar) return false;
      out->v.insert(out->v.end(), k->v.begin(), k->v.end());
    }
    return true;
  }

  // Elementwise Add, Sub, Mul or Div (integer) of two known values, one of them possibly broadcast.
  bool arithmetic(const onnx::NodeProto& n, Known* out) const {
    const Known* pa = get(n, 0);
    const Known* pb = get(n, 1);
    if (!pa || !pb) return false;
    const Known &a = *pa, &b = *pb;
    const std::string& op = n.op_type();
    const std::size_t len = std::max(a.v.size(), b.v.size());
    if ((a.v.size() != len && a.v.size() != 1) || (b.v.size() != len && b.v.size() != 1)) return false;
    out->scalar = a.scalar && b.scalar;
    for (std::size_t i = 0; i < len; ++i) {
      const std::int64_t x = a.v[a.v.size() == 1 ? 0 : i], y = b.v[b.v.size() == 1 ? 0 : i];
      if (x == kBatch || y == kBatch || (op == "Div" && y == 0)) return false;
      out->v.push_back(op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y);
    }
    return true;
  }

  const ValueInfos& info_;
  const KnownValues& known_;
};

// Every int64 value of the graph the folding can compute: initializers, then node outputs in order.
KnownValues known_values(const onnx::GraphProto& g, const ValueInfos& info) {
  KnownValues known;
  for (const auto& t : g.initializer()) {
    Known k;
    if (int_tensor(t, &k)) known[t.name()] = k;
  }
  const ShapeEvaluator evaluate(info, known);
  for (const auto& n : g.node()) {
    if (n.output_size() != 1) continue;
    Known out;
    if (evaluate.evaluate(n, &out)) known[n.output(0)] = out;
  }
  return known;
}

using Readers = std::map<std::string, std::vector<std::pair<const onnx::NodeProto*, int>>>;

// Whether a reader may take a batch-marked shape: only as a Reshape's target shape (input 1), for
// an input whose first axis is the batch.
bool takes_batch_marker(const ValueInfos& info, const onnx::NodeProto& reader, int slot) {
  std::vector<std::int64_t> dims;
  return reader.op_type() == "Reshape" && slot == 1 && int_attr(reader, "allowzero", 0) == 0 &&
         inferred_dims(info, reader.input(0), &dims) && !dims.empty() && dims[0] < 0;
}

// A known value's entries as a constant may hold them: the batch marker becomes 0 where it may
// stand (the first axis of a Reshape's target shape, for every reader), else false.
bool constant_entries(const Known& k, const std::vector<std::pair<const onnx::NodeProto*, int>>& readers,
                      const ValueInfos& info, std::vector<std::int64_t>* v) {
  *v = k.v;
  bool batch_ok = true;
  for (std::size_t i = 0; i < v->size(); ++i) {
    if ((*v)[i] != kBatch) continue;
    for (const auto& [reader, slot] : readers) batch_ok = batch_ok && i == 0 && takes_batch_marker(info, *reader, slot);
    (*v)[i] = 0;
  }
  return batch_ok;
}

// Removes, until none is left, the nodes none of whose outputs is read (by a node or as a graph output).
void remove_unread(google::protobuf::RepeatedPtrField<onnx::NodeProto>* nodes, const std::set<std::string>& outputs) {
  for (bool removed = true; removed;) {
    removed = false;
    std::set<std::string> used(outputs);
    for (const auto& n : *nodes)
      for (const auto& in : n.input()) used.insert(in);
    google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
    for (const auto& n : *nodes) {
      const bool live =
          std::any_of(n.output().begin(), n.output().end(), [&](const std::string& o) { return used.count(o) > 0; });
      if (live)
        *kept.Add() = n;
      else
        removed = true;
    }
    nodes->Swap(&kept);
  }
}

// One round: the known values computed, the nodes computing them replaced by Constants, the nodes
// left without readers removed. Returns whether anything changed.
bool fold_shape_arithmetic_once(onnx::ModelProto* m) {
  auto* g = m->mutable_graph();
  if (!has_op(*g, "Shape")) return false;
  const std::optional<onnx::ModelProto> inferred = inferred_shapes(*m, true);
  if (!inferred) return false;
  const ValueInfos info = value_infos(inferred->graph(), false);
  const KnownValues known = known_values(*g, info);

  // Readers of each value, to see where a batch-marked shape goes.
  Readers readers;
  for (const auto& n : g->node())
    for (int i = 0; i < n.input_size(); ++i) readers[n.input(i)].push_back({&n, i});
  std::set<std::string> graph_outputs;
  for (const auto& o : g->output()) graph_outputs.insert(o.name());

  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  bool changed = false;
  for (const auto& n : g->node()) {
    const auto it = n.output_size() == 1 ? known.find(n.output(0)) : known.end();
    std::vector<std::int64_t> v;
    if (it == known.end() || n.op_type() == "Constant" || graph_outputs.count(n.output(0)) ||
        !constant_entries(it->second, readers[n.output(0)], info, &v) || readers[n.output(0)].empty()) {
      *nodes.Add() = n;
      continue;
    }
    auto* c = onnx_build::append_node(&nodes, "Constant", n.name().empty() ? n.output(0) + "_fool_folded" : n.name(),
                                      {}, {n.output(0)});
    onnx::TensorProto value = int64_tensor(n.output(0) + "_value", v);
    if (it->second.scalar) value.clear_dims();
    onnx_build::set_tensor(c, "value", std::move(value));
    changed = true;
  }
  if (!changed) return false;
  remove_unread(&nodes, graph_outputs);  // the Shape nodes and their arithmetic
  g->mutable_node()->Swap(&nodes);
  return true;
}

// Each round's constants give shape inference more to work with (a reshape whose target is now
// known has a known output shape): fold until nothing changes.
void fold_shape_arithmetic(onnx::ModelProto* m) {
  for (int round = 0; round < 64 && fold_shape_arithmetic_once(m); ++round) {
  }
}

}  // namespace

std::string simplified_for_opencv(const OnnxModel& model, std::vector<InputOp>* input_ops) {
  onnx::ModelProto m = model.proto();
  auto* g = m.mutable_graph();
  if (input_ops) {
    const ModelSpec s = model.spec();
    fold_input_ops(g, s.input_name, s.input, input_ops);
  }
  rewrite_for_opencv(g);
  rewrite_channel_scales(&m);
  fold_shape_arithmetic(&m);
  // Map each pass-through node's output to its input, following chains.
  std::map<std::string, std::string> alias;
  for (const auto& n : g->node())
    if ((n.op_type() == "Identity" || n.op_type() == "Dropout") && n.input_size() >= 1) alias[n.output(0)] = n.input(0);
  auto resolve = [&](std::string name) {
    for (auto it = alias.find(name); it != alias.end(); it = alias.find(name)) name = it->second;
    return name;
  };
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (const auto& n : g->node()) {
    if (alias.count(n.output_size() ? n.output(0) : "")) continue;
    onnx::NodeProto copy = n;
    for (int i = 0; i < copy.input_size(); ++i) copy.set_input(i, resolve(copy.input(i)));
    *kept.Add() = copy;
  }
  g->mutable_node()->Swap(&kept);
  for (auto& o : *g->mutable_output()) o.set_name(resolve(o.name()));
  std::set<std::string> inits;
  for (const auto& t : g->initializer()) inits.insert(t.name());
  google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> inputs;
  for (const auto& in : g->input())
    if (!inits.count(in.name())) *inputs.Add() = in;
  g->mutable_input()->Swap(&inputs);
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}

}  // namespace fool
