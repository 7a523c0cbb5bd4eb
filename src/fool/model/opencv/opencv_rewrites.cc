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

// Rewrites forms OpenCV 4.6's importer gets wrong into forms it gets right: Gemm's alpha and beta
// (fold_gemm_factors) and Clip's constant bounds (clip_bounds_to_attributes).
void rewrite_for_opencv(onnx::GraphProto* g) {
  std::map<std::string, onnx::TensorProto*> inits;
  for (auto& t : *g->mutable_initializer()) inits[t.name()] = &t;
  std::map<std::string, const onnx::TensorProto*> constants(inits.begin(), inits.end());
  for (const auto& n : g->node())
    if (n.op_type() == "Constant" && n.output_size() == 1)
      for (const auto& a : n.attribute())
        if (a.name() == "value") constants[n.output(0)] = &a.t();
  for (auto& n : *g->mutable_node()) {
    if (n.op_type() == "Gemm") fold_gemm_factors(g, inits, &n);
    if (n.op_type() == "Clip" && n.input_size() > 1) clip_bounds_to_attributes(constants, &n);
  }
}

}  // namespace

namespace {

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
  for (int i = 0; i < t.dims_size(); ++i) d[static_cast<std::size_t>(4 - t.dims_size() + i)] = t.dims(i);
  const std::int64_t full[4] = {1, c, h, w};
  for (int i = 0; i < 4; ++i)
    if (d[static_cast<std::size_t>(i)] != 1 && d[static_cast<std::size_t>(i)] != full[i]) return false;
  const auto values = onnx_build::tensor_values<float>(t);
  if (!values || static_cast<std::int64_t>(values->size()) != d[1] * d[2] * d[3]) return false;
  broadcast_values(*values, d, c, h, w, out);
  return true;
}

// Folds leading "input <op> constant" nodes out of the graph (see simplified_for_opencv).
void fold_input_ops(onnx::GraphProto* g, const std::string& input, const ImageShape& shape, std::vector<InputOp>* ops) {
  std::map<std::string, const onnx::TensorProto*> constants;
  for (const auto& t : g->initializer()) constants[t.name()] = &t;
  for (const auto& n : g->node())
    if (n.op_type() == "Constant" && n.output_size() == 1)
      for (const auto& a : n.attribute())
        if (a.name() == "value") constants[n.output(0)] = &a.t();
  std::string current = input;
  for (;;) {
    // The one node that reads `current`; stop unless it is an elementwise op with a constant.
    int reader = -1, readers = 0;
    for (int i = 0; i < g->node_size(); ++i)
      for (const auto& in : g->node(i).input())
        if (in == current) reader = i, ++readers;
    if (readers != 1) return;
    const auto& n = g->node(reader);
    const std::string& t = n.op_type();
    if ((t != "Sub" && t != "Div" && t != "Add" && t != "Mul") || n.input_size() != 2 || n.input(0) != current) return;
    auto it = constants.find(n.input(1));
    InputOp op;
    if (it == constants.end() || !broadcast_chw(*it->second, shape.channels, shape.height, shape.width, &op.value))
      return;
    op.op = t == "Sub" ? '-' : t == "Div" ? '/' : t == "Add" ? '+' : '*';
    ops->push_back(std::move(op));
    const std::string out = n.output(0);
    g->mutable_node()->DeleteSubrange(reader, 1);
    // Later nodes read the graph input where they read the folded node's output.
    for (auto& m : *g->mutable_node())
      for (int i = 0; i < m.input_size(); ++i)
        if (m.input(i) == out) m.set_input(i, current);
    for (auto& o : *g->mutable_output())
      if (o.name() == out) return;  // the graph is only preprocessing; leave the rest alone
  }
}

}  // namespace

namespace {

// Squeeze-and-excitation (EfficientNet, MobileNetV3, RegNetY): Mul of a per-image channel scale
// [N,C,1,1] by a feature map [N,C,H,W]. OpenCV 4.6 imports it as a Scale layer whose broadcast axis
// it fixes at import time for a batch of one, so a batch of more than one image fails (N*C weights
// against C channels). Rewritten as: both operands reshaped to one image of N*C channels
// ([1,-1,0,0] and [1,-1,1,1]), the Mul (now a Scale over N*C channels, right for any N), and the
// product reshaped back to [-1,C,0,0]. Shapes come from ONNX shape inference on a copy.
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
  onnx::ModelProto inferred = *m;
  try {
    // Data propagation: shapes computed by Shape/Gather/Concat (dynamic reshapes) are inferred too.
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception&) {
    return;  // shapes unknown: leave the graph as it is
  }
  std::map<std::string, const onnx::ValueInfoProto*> info;
  for (const auto& v : inferred.graph().input()) info[v.name()] = &v;
  for (const auto& v : inferred.graph().value_info()) info[v.name()] = &v;
  for (const auto& v : inferred.graph().output()) info[v.name()] = &v;

  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  int rewritten = 0;
  for (const auto& n : g->node()) {
    std::vector<std::int64_t> d[2];
    std::vector<std::string> p[2];
    bool ok = n.op_type() == "Mul" && n.input_size() == 2 && n.output_size() == 1;
    for (int i = 0; ok && i < 2; ++i) {
      const auto it = info.find(n.input(i));
      ok = !constants.count(n.input(i)) && it != info.end() && inferred_shape(*it->second, &d[i], &p[i]) &&
           d[i].size() == 4;
    }
    // s: the [N,C,1,1] operand, x: the [N,C,H,W] one, with C, H, W known and H*W > 1.
    const int si = ok && d[0][2] == 1 && d[0][3] == 1 ? 0 : 1;
    const int xi = 1 - si;
    ok = ok && d[si][2] == 1 && d[si][3] == 1 && d[xi][2] > 0 && d[xi][3] > 0 && d[xi][2] * d[xi][3] > 1 &&
         d[si][1] > 0 && d[si][1] == d[xi][1] &&
         ((d[si][0] > 0 && d[si][0] == d[xi][0]) || (!p[si][0].empty() && p[si][0] == p[xi][0]));
    if (!ok) {
      *nodes.Add() = n;
      continue;
    }
    const std::string base = n.output(0) + "_fool_se";
    *g->add_initializer() = int64_tensor(base + "_shape_s", {1, -1, 1, 1});
    *g->add_initializer() = int64_tensor(base + "_shape_x", {1, -1, 0, 0});
    *g->add_initializer() = int64_tensor(base + "_shape_y", {-1, d[xi][1], 0, 0});
    std::string flat[2];
    for (int i = 0; i < 2; ++i) {
      flat[i] = base + "_in" + std::to_string(i);
      onnx_build::append_node(&nodes, "Reshape", base + "_reshape" + std::to_string(i),
                              {n.input(i), base + (i == si ? "_shape_s" : "_shape_x")}, {flat[i]});
    }
    auto* mul = nodes.Add();
    *mul = n;
    mul->set_input(0, flat[0]);
    mul->set_input(1, flat[1]);
    mul->set_output(0, base + "_product");
    onnx_build::append_node(&nodes, "Reshape", base + "_reshape_back", {base + "_product", base + "_shape_y"},
                            {n.output(0)});
    ++rewritten;
  }
  if (rewritten > 0) g->mutable_node()->Swap(&nodes);
}

// Shape arithmetic (ShuffleNet's channel split and shuffle: Shape -> Gather -> Add/Div/Mul ->
// Slice or Concat -> Reshape) computed here from ONNX shape inference and replaced by constants:
// OpenCV 4.6 folds such integer subgraphs itself but mixes up scalars and one-element tensors, and
// cannot know a dynamic batch. A value that holds the batch size is kept as a marker and allowed only
// at position 0 of a Reshape's target shape, where it becomes 0 ("copy the input's first axis").
// Nodes left without readers are removed.
bool fold_shape_arithmetic_once(onnx::ModelProto* m) {
  constexpr std::int64_t kBatch = std::numeric_limits<std::int64_t>::min();
  struct Known {
    std::vector<std::int64_t> v;
    bool scalar = false;
  };
  auto* g = m->mutable_graph();
  bool candidate = false;
  for (const auto& n : g->node()) candidate = candidate || n.op_type() == "Shape";
  if (!candidate) return false;
  // Inference needs the weights' shapes, not their values: a copy without large float data.
  onnx::ModelProto inferred = *m;
  for (auto& t : *inferred.mutable_graph()->mutable_initializer())
    if (t.data_type() == onnx::TensorProto::FLOAT && t.raw_data().size() > 4096) t.clear_raw_data();
  try {
    // Data propagation: shapes computed by Shape/Gather/Concat (dynamic reshapes) are inferred too.
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception&) {
    return false;
  }
  std::map<std::string, const onnx::ValueInfoProto*> info;
  for (const auto& v : inferred.graph().input()) info[v.name()] = &v;
  for (const auto& v : inferred.graph().value_info()) info[v.name()] = &v;

  std::map<std::string, Known> known;
  auto int_tensor = [](const onnx::TensorProto& t, Known* k) {
    if (t.data_type() != onnx::TensorProto::INT64 || t.dims_size() > 1) return false;
    k->scalar = t.dims_size() == 0;
    auto v = onnx_build::tensor_values<std::int64_t>(t);
    if (!v) return false;
    k->v = std::move(*v);
    return true;
  };
  for (const auto& t : g->initializer()) {
    Known k;
    if (int_tensor(t, &k)) known[t.name()] = k;
  }
  auto get = [&](const onnx::NodeProto& n, int i) -> const Known* {
    if (i >= n.input_size()) return nullptr;
    const auto it = known.find(n.input(i));
    return it == known.end() ? nullptr : &it->second;
  };
  auto int_attr = [](const onnx::NodeProto& n, const std::string& name, std::int64_t def) {
    for (const auto& a : n.attribute())
      if (a.name() == name) return a.i();
    return def;
  };
  for (const auto& n : g->node()) {
    if (n.output_size() != 1) continue;
    const std::string& op = n.op_type();
    Known out;
    bool ok = false;
    if (op == "Constant") {
      for (const auto& a : n.attribute())
        if (a.name() == "value") ok = int_tensor(a.t(), &out);
    } else if (op == "Shape" && n.attribute_size() == 0) {
      std::vector<std::int64_t> dims;
      std::vector<std::string> params;
      const auto it = info.find(n.input(0));
      ok = it != info.end() && inferred_shape(*it->second, &dims, &params);
      for (std::size_t i = 0; ok && i < dims.size(); ++i) {
        if (dims[i] < 0 && i != 0) ok = false;
        out.v.push_back(dims[i] < 0 ? kBatch : dims[i]);
      }
    } else if (op == "Gather" && get(n, 0) && get(n, 1) && int_attr(n, "axis", 0) == 0 && !get(n, 0)->scalar) {
      const Known& d = *get(n, 0);
      out.scalar = get(n, 1)->scalar;
      ok = true;
      for (std::int64_t i : get(n, 1)->v) {
        if (i < 0) i += static_cast<std::int64_t>(d.v.size());
        if (i < 0 || i >= static_cast<std::int64_t>(d.v.size()))
          ok = false;
        else
          out.v.push_back(d.v[static_cast<std::size_t>(i)]);
      }
    } else if ((op == "Unsqueeze" || op == "Squeeze" || op == "Cast") && get(n, 0)) {
      out = *get(n, 0);
      // Unsqueeze of a scalar is a one-element list; Squeeze of one is a scalar; Cast to int64 keeps it.
      ok = op == "Cast" ? int_attr(n, "to", 0) == onnx::TensorProto::INT64
                        : (op == "Unsqueeze" ? out.scalar : (!out.scalar && out.v.size() == 1));
      out.scalar = op == "Squeeze" || (op == "Cast" && out.scalar);
    } else if (op == "Concat" && int_attr(n, "axis", 0) == 0) {
      ok = true;
      for (int i = 0; ok && i < n.input_size(); ++i) {
        const Known* k = get(n, i);
        ok = k && !k->scalar;
        if (ok) out.v.insert(out.v.end(), k->v.begin(), k->v.end());
      }
    } else if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && get(n, 0) && get(n, 1)) {
      const Known &a = *get(n, 0), &b = *get(n, 1);
      const std::size_t len = std::max(a.v.size(), b.v.size());
      ok = (a.v.size() == len || a.v.size() == 1) && (b.v.size() == len || b.v.size() == 1);
      out.scalar = a.scalar && b.scalar;
      for (std::size_t i = 0; ok && i < len; ++i) {
        const std::int64_t x = a.v[a.v.size() == 1 ? 0 : i], y = b.v[b.v.size() == 1 ? 0 : i];
        if (x == kBatch || y == kBatch || (op == "Div" && y == 0)) {
          ok = false;
          break;
        }
        out.v.push_back(op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y);
      }
    }
    if (ok) known[n.output(0)] = out;
  }

  // Readers of each value, to see where a batch-marked shape goes.
  std::map<std::string, std::vector<std::pair<const onnx::NodeProto*, int>>> readers;
  for (const auto& n : g->node())
    for (int i = 0; i < n.input_size(); ++i) readers[n.input(i)].push_back({&n, i});
  std::set<std::string> graph_outputs;
  for (const auto& o : g->output()) graph_outputs.insert(o.name());

  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  bool changed = false;
  for (const auto& n : g->node()) {
    const auto it = n.output_size() == 1 ? known.find(n.output(0)) : known.end();
    if (it == known.end() || n.op_type() == "Constant" || graph_outputs.count(n.output(0))) {
      *nodes.Add() = n;
      continue;
    }
    std::vector<std::int64_t> v = it->second.v;
    bool batch_ok = true;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] != kBatch) continue;
      // Only as a Reshape's target shape, first axis, for an input whose first axis is the batch.
      for (const auto& [reader, slot] : readers[n.output(0)]) {
        std::vector<std::int64_t> dims;
        std::vector<std::string> params;
        const auto in = info.find(reader->input(0));
        batch_ok = batch_ok && i == 0 && reader->op_type() == "Reshape" && slot == 1 &&
                   int_attr(*reader, "allowzero", 0) == 0 && in != info.end() &&
                   inferred_shape(*in->second, &dims, &params) && !dims.empty() && dims[0] < 0;
      }
      v[i] = 0;
    }
    if (!batch_ok || readers[n.output(0)].empty()) {
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
  // Remove what no longer has a reader (the Shape nodes and their arithmetic).
  for (bool removed = true; removed;) {
    removed = false;
    std::set<std::string> used(graph_outputs);
    for (const auto& n : nodes)
      for (const auto& in : n.input()) used.insert(in);
    google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
    for (const auto& n : nodes) {
      bool live = false;
      for (const auto& o : n.output()) live = live || used.count(o);
      if (live)
        *kept.Add() = n;
      else
        removed = true;
    }
    nodes.Swap(&kept);
  }
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
