#include "fool/model/onnx/onnx_forms.h"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "fool/core/error.h"
#include "fool/model/onnx/graph_builder.h"

namespace fool {
namespace {

using onnx::TensorProto;

// IEEE half -> float (all cases: zero, subnormal, normal, inf, NaN).
float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f = 0.0f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

float bfloat16_to_float(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f = 0.0f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

bool is_half(int type) { return type == TensorProto::FLOAT16 || type == TensorProto::BFLOAT16; }

std::string type_name(int type) {
  switch (type) {
    case TensorProto::FLOAT:
      return "float32";
    case TensorProto::FLOAT16:
      return "float16";
    case TensorProto::BFLOAT16:
      return "bfloat16";
    case TensorProto::UINT8:
      return "uint8";
    case TensorProto::DOUBLE:
      return "float64";
    default:
      return "ONNX type " + std::to_string(type);
  }
}

// A float16 or bfloat16 tensor rewritten as float32 with the same values.
void widen_tensor(TensorProto* t) {
  if (!is_half(t->data_type())) return;
  std::vector<std::uint16_t> bits;
  if (!t->raw_data().empty()) {
    const std::string& raw = t->raw_data();
    bits.resize(raw.size() / 2);
    for (std::size_t i = 0; i < bits.size(); ++i)
      bits[i] = static_cast<std::uint16_t>(static_cast<unsigned char>(raw[2 * i]) |
                                           (static_cast<unsigned char>(raw[2 * i + 1]) << 8));
  } else {
    for (auto v : t->int32_data()) bits.push_back(static_cast<std::uint16_t>(v));
  }
  const bool bf = t->data_type() == TensorProto::BFLOAT16;
  std::string out(bits.size() * sizeof(float), '\0');
  for (std::size_t i = 0; i < bits.size(); ++i) {
    const float f = bf ? bfloat16_to_float(bits[i]) : half_to_float(bits[i]);
    std::memcpy(&out[i * sizeof(float)], &f, sizeof f);
  }
  t->clear_int32_data();
  t->set_raw_data(std::move(out));
  t->set_data_type(TensorProto::FLOAT);
}

void widen_value(onnx::ValueInfoProto* v) {
  if (!v->type().has_tensor_type()) return;
  auto* tt = v->mutable_type()->mutable_tensor_type();
  if (is_half(tt->elem_type())) tt->set_elem_type(TensorProto::FLOAT);
}

// Every float16/bfloat16 of the graph becomes float32; returns the weights' type before.
std::string widen_graph(onnx::GraphProto* g) {
  std::string weights = "float32";
  for (auto& t : *g->mutable_initializer()) {
    if (is_half(t.data_type())) weights = type_name(t.data_type());
    widen_tensor(&t);
  }
  for (auto& n : *g->mutable_node()) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) {
        if (is_half(a.t().data_type())) weights = type_name(a.t().data_type());
        widen_tensor(a.mutable_t());
      }
      if ((n.op_type() == "Cast" || n.op_type() == "CastLike") && a.name() == "to" && is_half(static_cast<int>(a.i())))
        a.set_i(TensorProto::FLOAT);
    }
  }
  for (auto& v : *g->mutable_input()) widen_value(&v);
  for (auto& v : *g->mutable_output()) widen_value(&v);
  for (auto& v : *g->mutable_value_info()) widen_value(&v);
  return weights;
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Keeps one graph output and the nodes and initializers it needs.
void keep_output(onnx::GraphProto* g, const std::string& path, const std::string& wanted, ModelForms* forms) {
  for (const auto& o : g->output()) forms->outputs.push_back(o.name());
  if (wanted.empty()) {
    if (g->output_size() > 1) {
      throw Error(path + ": model has " + std::to_string(g->output_size()) + " outputs (" + joined(forms->outputs) +
                  "); choose the class scores with --output NAME");
    }
    return;
  }
  int index = -1;
  for (int i = 0; i < g->output_size(); ++i)
    if (g->output(i).name() == wanted) index = i;
  if (index < 0)
    throw Error(path + ": no output '" + wanted + "' (the model's outputs: " + joined(forms->outputs) + ")");
  if (g->output_size() == 1) return;
  onnx::ValueInfoProto kept = g->output(index);
  g->clear_output();
  *g->add_output() = kept;
  // Walk back from the kept output: a node is needed if one of its outputs is.
  std::set<std::string> needed = {wanted};
  std::vector<bool> keep(static_cast<std::size_t>(g->node_size()), false);
  for (int i = g->node_size() - 1; i >= 0; --i) {
    const auto& n = g->node(i);
    bool used = false;
    for (const auto& o : n.output()) used = used || needed.count(o) > 0;
    if (!used) continue;
    keep[static_cast<std::size_t>(i)] = true;
    for (const auto& in : n.input()) needed.insert(in);
  }
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (int i = 0; i < g->node_size(); ++i)
    if (keep[static_cast<std::size_t>(i)]) *nodes.Add() = g->node(i);
  g->mutable_node()->Swap(&nodes);
  google::protobuf::RepeatedPtrField<TensorProto> inits;
  for (const auto& t : g->initializer())
    if (needed.count(t.name())) *inits.Add() = t;
  g->mutable_initializer()->Swap(&inits);
}

std::vector<std::int64_t> dims_of(const onnx::ValueInfoProto& v) {
  std::vector<std::int64_t> d;
  if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return d;
  for (const auto& x : v.type().tensor_type().shape().dim()) d.push_back(x.has_dim_value() ? x.dim_value() : -1);
  return d;
}

bool image_channels(std::int64_t c) { return c == 1 || c == 3; }

// The layout of a rank-4 input from its shape, or the choice.
InputLayout decide_layout(const std::vector<std::int64_t>& d, const FormChoices& choices, ModelForms* forms) {
  if (choices.layout) {
    forms->layout_origin = choices.layout_source.empty() ? "--layout" : choices.layout_source;
    return *choices.layout;
  }
  const bool nchw = image_channels(d[1]), nhwc = image_channels(d[3]);
  forms->layout_ambiguous = nchw == nhwc;
  return nhwc && !nchw ? InputLayout::Nhwc : InputLayout::Nchw;
}

onnx::NodeProto* prepend_node(google::protobuf::RepeatedPtrField<onnx::NodeProto>* front, const std::string& op,
                              const std::string& in, const std::string& out) {
  return onnx_build::append_node(front, op, "fool_" + op + "_" + out, {in}, {out});
}

// A name not used by any value of the graph.
std::string fresh_name(const onnx::GraphProto& g, const std::string& base) {
  std::set<std::string> used;
  for (const auto& v : g.input()) used.insert(v.name());
  for (const auto& t : g.initializer()) used.insert(t.name());
  for (const auto& n : g.node())
    for (const auto& o : n.output()) used.insert(o);
  std::string name = base;
  for (int i = 2; used.count(name); ++i) name = base + "_" + std::to_string(i);
  return name;
}

// The graph's inputs that are not initializers.
std::vector<onnx::ValueInfoProto*> non_initializer_inputs(onnx::GraphProto* g) {
  std::set<std::string> inits;
  for (const auto& t : g->initializer()) inits.insert(t.name());
  std::vector<onnx::ValueInfoProto*> inputs;
  for (auto& in : *g->mutable_input())
    if (!inits.count(in.name())) inputs.push_back(&in);
  return inputs;
}

// The image's height and width: the model's, or the choice's where the model leaves them free (a
// choice that contradicts a fixed size is refused).
void decide_size(const std::string& path, const onnx::ValueInfoProto& input, const FormChoices& choices,
                 ModelForms* forms, std::int64_t* h, std::int64_t* w) {
  if (!choices.input_size) {
    if (*h <= 0 || *w <= 0) {
      throw Error(path + ": input '" + input.name() +
                  "' has a dynamic height or width; give the size with --input-size HxW");
    }
    return;
  }
  const auto [ih, iw] = *choices.input_size;
  if ((*h > 0 && *h != ih) || (*w > 0 && *w != iw)) {
    throw Error(path + ": " + choices.input_size_source + " " + std::to_string(ih) + "x" + std::to_string(iw) +
                " contradicts the model's fixed input of " + (*h > 0 ? std::to_string(*h) : "?") + "x" +
                (*w > 0 ? std::to_string(*w) : "?"));
  }
  if (*h <= 0 || *w <= 0) forms->input_size_origin = choices.input_size_source;
  *h = ih;
  *w = iw;
}

// The image input's dimensions as fool feeds it: N (0: free) x C x H x W.
struct InputDims {
  std::int64_t batch, c, h, w;
};

// Value v renamed `name`, float32 with the shape of `d` (a free batch named "N").
void set_image_shape(onnx::ValueInfoProto* v, const std::string& name, const InputDims& d) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(TensorProto::FLOAT);
  auto* shape = tt->mutable_shape();
  shape->clear_dim();
  if (d.batch > 0) {
    shape->add_dim()->set_dim_value(d.batch);
  } else {
    shape->add_dim()->set_dim_param("N");
  }
  for (auto x : {d.c, d.h, d.w}) shape->add_dim()->set_dim_value(x);
}

// Whether every node that reads `name` is a Cast to float.
bool read_by_float_casts_only(const onnx::GraphProto& g, const std::string& name) {
  bool casts_only = true;
  for (const auto& n : g.node())
    for (const auto& in : n.input()) {
      if (in != name) continue;
      bool to_float = n.op_type() == "Cast";
      for (const auto& a : n.attribute()) to_float = to_float && (a.name() != "to" || a.i() == TensorProto::FLOAT);
      casts_only = casts_only && to_float;
    }
  return casts_only;
}

// The Casts of `name` become Identities.
void drop_casts_of(onnx::GraphProto* g, const std::string& name) {
  for (auto& n : *g->mutable_node())
    if (n.op_type() == "Cast" && n.input_size() == 1 && n.input(0) == name) {
      n.set_op_type("Identity");
      n.clear_attribute();
    }
}

// A new float32 NCHW input (shape d) in place of `input`, and nodes in front of the graph from it to
// the original input's name: a Transpose from NCHW to NHWC, a rounding Cast to uint8, or both.
void feed_through_new_input(onnx::GraphProto* g, onnx::ValueInfoProto* input, const InputDims& d, bool nhwc,
                            bool cast) {
  const std::string original = input->name();
  google::protobuf::RepeatedPtrField<onnx::NodeProto> front;
  const std::string fresh = fresh_name(*g, original + "_nchw");
  std::string cur = fresh;
  if (nhwc) {
    const std::string out = cast ? fresh_name(*g, original + "_nhwc") : original;
    onnx_build::set_ints(prepend_node(&front, "Transpose", cur, out), "perm", {0, 2, 3, 1});
    cur = out;
  }
  if (cast) {
    const std::string rounded = fresh_name(*g, original + "_rounded");
    prepend_node(&front, "Round", cur, rounded);
    onnx_build::set_int(prepend_node(&front, "Cast", rounded, original), "to", TensorProto::UINT8);
  }
  set_image_shape(input, fresh, d);
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (auto& n : front) *nodes.Add() = std::move(n);
  for (auto& n : *g->mutable_node()) *nodes.Add() = std::move(n);
  g->mutable_node()->Swap(&nodes);
}

// Rewrites the one image input into float32 N x C x H x W of fixed size.
void normalise_input(onnx::GraphProto* g, const std::string& path, const FormChoices& choices, int input_type,
                     ModelForms* forms) {
  const std::vector<onnx::ValueInfoProto*> inputs = non_initializer_inputs(g);
  if (inputs.size() != 1) return;  // several inputs or none: ModelSpec's check names them
  onnx::ValueInfoProto* input = inputs[0];
  const auto d = dims_of(*input);
  if (d.size() != 4) return;  // not an image: ModelSpec's check says so
  const InputLayout layout = decide_layout(d, choices, forms);
  forms->layout = layout;
  const bool nhwc = layout == InputLayout::Nhwc;
  InputDims dims{d[0], nhwc ? d[3] : d[1], nhwc ? d[1] : d[2], nhwc ? d[2] : d[3]};
  decide_size(path, *input, choices, forms, &dims.h, &dims.w);
  if (input_type != TensorProto::FLOAT && input_type != TensorProto::UINT8) {
    throw Error(path + ": input '" + input->name() + "' is " + type_name(input_type) +
                "; fool feeds float32, float16, bfloat16 or uint8 images");
  }
  const bool uint8 = input_type == TensorProto::UINT8;
  // A uint8 input whose every consumer casts it to float is fed as float directly.
  const std::string original = input->name();
  const bool casts_only = uint8 && read_by_float_casts_only(*g, original);
  if (casts_only) drop_casts_of(g, original);
  if (!nhwc && (!uint8 || casts_only)) {
    set_image_shape(input, original, dims);  // float32 NCHW in place (fixed size)
    return;
  }
  feed_through_new_input(g, input, dims, nhwc, uint8 && !casts_only);
}

int first_input_type(const onnx::GraphProto& g) {
  std::set<std::string> inits;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  for (const auto& in : g.input())
    if (!inits.count(in.name()) && in.type().has_tensor_type()) return in.type().tensor_type().elem_type();
  return TensorProto::FLOAT;
}

using onnx_build::set_int64_values;

// The first axis of a value's shape made symbolic.
void symbolic_batch(onnx::ValueInfoProto* v) {
  if (!v->type().has_tensor_type() || !v->type().tensor_type().has_shape()) return;
  auto* shape = v->mutable_type()->mutable_tensor_type()->mutable_shape();
  if (shape->dim_size() == 0) return;
  shape->mutable_dim(0)->set_dim_param("batch");
}

// How often each value is read, and how often as a Reshape's target shape (without allowzero).
struct ValueReads {
  std::map<std::string, int> as_shape, uses;
  int count(const std::map<std::string, int>& reads, const std::string& name) const {
    const auto it = reads.find(name);
    return it == reads.end() ? 0 : it->second;
  }
  // Whether `name` is read, and only as a Reshape's target shape.
  bool only_shape(const std::string& name) const {
    const int shapes = count(as_shape, name);
    return shapes != 0 && shapes == count(uses, name);
  }
};

ValueReads value_reads(const onnx::GraphProto& g) {
  ValueReads reads;
  for (const auto& n : g.node()) {
    bool allowzero = false;
    for (const auto& a : n.attribute()) allowzero = allowzero || (a.name() == "allowzero" && a.i() != 0);
    for (int i = 0; i < n.input_size(); ++i) {
      ++reads.uses[n.input(i)];
      if (n.op_type() == "Reshape" && i == 1 && !allowzero) ++reads.as_shape[n.input(i)];
    }
  }
  return reads;
}

// A target shape whose first entry is the fixed batch gets 0 there ("copy the input's batch").
void free_batch_of_shape(std::int64_t batch, TensorProto* t) {
  auto v = onnx_build::tensor_values<std::int64_t>(*t);
  if (!v || v->size() < 2 || (*v)[0] != batch) return;
  (*v)[0] = 0;
  set_int64_values(t, *v);
}

}  // namespace

bool free_batch_axis(onnx::ModelProto* model) {
  auto* g = model->mutable_graph();
  const std::vector<onnx::ValueInfoProto*> inputs = non_initializer_inputs(g);
  if (inputs.empty()) return false;
  onnx::ValueInfoProto* input = inputs.back();
  const std::vector<std::int64_t> dims = dims_of(*input);
  if (dims.empty() || dims[0] <= 0) return false;
  const std::int64_t batch = dims[0];
  symbolic_batch(input);
  for (auto& out : *g->mutable_output()) symbolic_batch(&out);
  g->clear_value_info();
  // The values that only feed Reshapes' shapes (a value that feeds anything else is left alone).
  const ValueReads reads = value_reads(*g);
  for (auto& t : *g->mutable_initializer())
    if (reads.only_shape(t.name())) free_batch_of_shape(batch, &t);
  for (auto& n : *g->mutable_node()) {
    if (n.op_type() != "Constant" || n.output_size() != 1 || !reads.only_shape(n.output(0))) continue;
    for (auto& a : *n.mutable_attribute()) {
      if (a.name() == "value" && a.has_t()) free_batch_of_shape(batch, a.mutable_t());
    }
  }
  return true;
}

ModelForms normalise_forms(onnx::ModelProto* model, const std::string& path, const FormChoices& choices) {
  ModelForms forms;
  auto* g = model->mutable_graph();
  keep_output(g, path, choices.output, &forms);
  const int input_type = first_input_type(*g);
  forms.input_type = type_name(input_type);
  forms.weights_type = widen_graph(g);
  normalise_input(g, path, choices, is_half(input_type) ? TensorProto::FLOAT : input_type, &forms);
  return forms;
}

}  // namespace fool
