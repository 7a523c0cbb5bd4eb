#pragma once
// Building and rewriting ONNX graphs: the one builder of fool (fool train's export, fool convert
// caffe, the OpenCV rewrites, the ONNX forms, the test graphs). GraphBuilder makes a new model: a
// start, inputs and outputs with their shapes, initializers, nodes with attributes, metadata and
// the serialized bytes; the free functions below serve it and the code that rewrites a graph in
// place (attributes, int64 tensors, reading a tensor's values). Internal to fool (not installed):
// include inside a .cc file only, so the protobuf headers stay out of public headers.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <onnx/onnx_pb.h>

namespace fool::onnx_build {

// ---- models and values ---------------------------------------------------------------------------

// A model as fool writes it: IR version 7, the default domain at `opset`, made by `producer`.
inline void start_model(onnx::ModelProto* m, const std::string& producer, std::int64_t opset) {
  m->set_ir_version(7);
  m->set_producer_name(producer);
  m->set_producer_version("0.1.0");
  auto* o = m->add_opset_import();
  o->set_domain("");
  o->set_version(opset);
}

inline void add_metadata(onnx::ModelProto* m, const std::string& key, const std::string& value) {
  auto* p = m->add_metadata_props();
  p->set_key(key);
  p->set_value(value);
}

// A float32 graph input or output with a free batch axis "N" before `per_image` dimensions.
inline void set_batched_float(onnx::ValueInfoProto* v, const std::string& name,
                              const std::vector<std::int64_t>& per_image) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tt->mutable_shape();
  shape->add_dim()->set_dim_param("N");
  for (auto d : per_image) shape->add_dim()->set_dim_value(d);
}

// A value's static shape from shape inference: one entry per axis, a dim_value, or -1 for an
// unknown or symbolic dim (whose name, if any, is in *params).
inline bool inferred_shape(const onnx::ValueInfoProto& v, std::vector<std::int64_t>* dims,
                           std::vector<std::string>* params) {
  if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return false;
  dims->clear();
  params->clear();
  for (const auto& d : v.type().tensor_type().shape().dim()) {
    dims->push_back(d.has_dim_value() ? d.dim_value() : -1);
    params->push_back(d.has_dim_param() ? d.dim_param() : "");
  }
  return true;
}

// ---- nodes and attributes ------------------------------------------------------------------------

// Appends a node running `op` (default domain) named `name` to `nodes` (a graph's node list, or a
// list being rewritten).
template <typename NodeList>
onnx::NodeProto* append_node(NodeList* nodes, const std::string& op, const std::string& name,
                             const std::vector<std::string>& inputs, const std::vector<std::string>& outputs) {
  auto* n = nodes->Add();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

// Each attribute setter replaces an attribute of the same name if the node already has it.

inline onnx::AttributeProto* slot(onnx::NodeProto* n, const std::string& name,
                                  onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto* a = nullptr;
  for (auto& existing : *n->mutable_attribute())
    if (existing.name() == name) a = &existing;
  if (a == nullptr) a = n->add_attribute();
  a->Clear();
  a->set_name(name);
  a->set_type(type);
  return a;
}

inline void set_int(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
  slot(n, name, onnx::AttributeProto::INT)->set_i(v);
}

inline void set_float(onnx::NodeProto* n, const std::string& name, float v) {
  slot(n, name, onnx::AttributeProto::FLOAT)->set_f(v);
}

inline void set_ints(onnx::NodeProto* n, const std::string& name, const std::vector<std::int64_t>& values) {
  auto* a = slot(n, name, onnx::AttributeProto::INTS);
  for (auto v : values) a->add_ints(v);
}

inline void set_string(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  slot(n, name, onnx::AttributeProto::STRING)->set_s(v);
}

inline void set_tensor(onnx::NodeProto* n, const std::string& name, onnx::TensorProto t) {
  *slot(n, name, onnx::AttributeProto::TENSOR)->mutable_t() = std::move(t);
}

// ---- tensors -------------------------------------------------------------------------------------

// A float32 tensor of shape `dims` holding `count` values (raw little-endian data).
inline onnx::TensorProto float_tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                                      const float* values, std::size_t count) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values), count * sizeof(float)));
  return t;
}

// An int64 tensor of shape `dims` (empty: one-dimensional, values.size() long), raw data.
inline onnx::TensorProto int64_tensor(const std::string& name, const std::vector<std::int64_t>& values,
                                      const std::vector<std::int64_t>& dims = {}) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::INT64);
  if (dims.empty()) t.add_dims(static_cast<std::int64_t>(values.size()));
  for (auto d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(std::int64_t)));
  return t;
}

// The values of an inline tensor of element type T (FLOAT: float, INT64: std::int64_t), from its raw
// data or its typed field; nothing when it holds another type, external data, or raw data of a size
// that is not a whole number of elements.
template <typename T>
std::optional<std::vector<T>> tensor_values(const onnx::TensorProto& t) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, std::int64_t>, "float or int64 tensors");
  constexpr int kType = std::is_same_v<T, float> ? onnx::TensorProto::FLOAT : onnx::TensorProto::INT64;
  if (t.data_type() != kType || t.data_location() == onnx::TensorProto::EXTERNAL) return std::nullopt;
  std::vector<T> v;
  if (!t.raw_data().empty()) {
    if (t.raw_data().size() % sizeof(T) != 0) return std::nullopt;
    v.resize(t.raw_data().size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  } else if constexpr (std::is_same_v<T, float>) {
    v.assign(t.float_data().begin(), t.float_data().end());
  } else {
    v.assign(t.int64_data().begin(), t.int64_data().end());
  }
  return v;
}

// Replaces an int64 tensor's values (raw data; its dims are left as they are).
inline void set_int64_values(onnx::TensorProto* t, const std::vector<std::int64_t>& v) {
  t->clear_int64_data();
  t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(std::int64_t)));
}

// ---- a new model ---------------------------------------------------------------------------------

// Builds one ONNX model: started as start_model() says, then inputs, initializers, nodes, outputs
// and metadata in the order they are added; the caller names every value and node.
class GraphBuilder {
 public:
  GraphBuilder(const std::string& producer, std::int64_t opset) { start_model(&model_, producer, opset); }

  onnx::ModelProto& model() { return model_; }
  onnx::GraphProto& graph() { return *model_.mutable_graph(); }

  // A float32 graph input / output with a free batch axis "N" before `per_image` dimensions.
  void input(const std::string& name, const std::vector<std::int64_t>& per_image) {
    set_batched_float(graph().add_input(), name, per_image);
  }
  void output(const std::string& name, const std::vector<std::int64_t>& per_image) {
    set_batched_float(graph().add_output(), name, per_image);
  }

  // Initializers; each returns its name.
  const std::string& float_initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                                       const float* values, std::size_t count) {
    *graph().add_initializer() = float_tensor(name, dims, values, count);
    return name;
  }
  const std::string& float_initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                                       const std::vector<float>& values) {
    return float_initializer(name, dims, values.data(), values.size());
  }
  const std::string& int64_initializer(const std::string& name, const std::vector<std::int64_t>& values,
                                       const std::vector<std::int64_t>& dims = {}) {
    *graph().add_initializer() = int64_tensor(name, values, dims);
    return name;
  }

  // A node; attributes are set on the result with set_int, set_ints, set_float, set_string, set_tensor.
  onnx::NodeProto* node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs) {
    return append_node(graph().mutable_node(), op, name, inputs, outputs);
  }

  void metadata(const std::string& key, const std::string& value) { add_metadata(&model_, key, value); }
  bool has_metadata(const std::string& key) const {
    return std::any_of(model_.metadata_props().begin(), model_.metadata_props().end(),
                       [&](const onnx::StringStringEntryProto& p) { return p.key() == key; });
  }

  // The model's bytes (protobuf binary, deterministic for the same model).
  std::string serialize() const {
    std::string bytes;
    model_.SerializeToString(&bytes);
    return bytes;
  }

 private:
  onnx::ModelProto model_;
};

}  // namespace fool::onnx_build
