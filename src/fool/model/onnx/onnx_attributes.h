#pragma once
// Writing ONNX node attributes: the one set of helpers for every file that builds or rewrites a
// graph (fool train's networks, fool convert caffe, the OpenCV rewrites). Each sets the attribute,
// replacing one of the same name if the node already has it. Include after <onnx/onnx_pb.h>, inside
// a backend's or a writer's .cc file only (the protobuf headers stay out of public headers).
#include <cstdint>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace fool::onnx_attr {

inline onnx::AttributeProto* slot(onnx::NodeProto* n, const std::string& name, onnx::AttributeProto::AttributeType type) {
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

}  // namespace fool::onnx_attr
