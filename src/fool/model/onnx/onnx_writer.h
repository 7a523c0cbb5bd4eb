#pragma once
// Writing ONNX models: the one set of helpers for every file that builds or rewrites a graph (fool
// train's networks, fool convert caffe, the OpenCV rewrites). Include inside a .cc file only (the
// protobuf headers stay out of public headers).
#include <cstdint>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace fool::onnx_attr {

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

// A one-dimensional INT64 tensor named `name`.
inline onnx::TensorProto int64_tensor(const std::string& name, const std::vector<std::int64_t>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::INT64);
  t.add_dims(static_cast<std::int64_t>(values.size()));
  for (auto v : values) t.add_int64_data(v);
  return t;
}

}  // namespace fool::onnx_attr
