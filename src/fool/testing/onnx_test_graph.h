#pragma once
// Test helper: builds small ONNX graphs node by node (seeded random weights), for tests that need
// models with particular operators.
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fool/core/rng.h"
#include "fool/io/files.h"

namespace fool::testing {

// Builds ONNX graphs node by node with seeded random weights.
class GraphBuilder {
 public:
  GraphBuilder(std::int64_t opset, std::vector<std::int64_t> input_dims) : rng_(11) {
    m_.set_ir_version(7);
    m_.add_opset_import()->set_version(opset);
    auto* in = m_.mutable_graph()->add_input();
    in->set_name("x");
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    for (auto d : input_dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  std::string weight(std::vector<std::int64_t> dims, float lo = -0.5f, float hi = 0.5f) {
    const std::string name = "w" + std::to_string(count_++);
    auto* t = m_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::int64_t n = 1;
    for (auto d : dims) {
      t->add_dims(d);
      n *= d;
    }
    for (std::int64_t i = 0; i < n; ++i) t->add_float_data(static_cast<float>(rng_.uniform(lo, hi)));
    return name;
  }
  std::string ints(std::vector<std::int64_t> values) {
    const std::string name = "i" + std::to_string(count_++);
    auto* t = m_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(values.size()));
    for (auto v : values) t->add_int64_data(v);
    return name;
  }
  // An int64 initializer of the given shape (default: 1-D).
  std::string ints(std::vector<std::int64_t> values, std::vector<std::int64_t> dims) {
    const std::string name = ints(std::move(values));
    auto* t = m_.mutable_graph()->mutable_initializer(m_.graph().initializer_size() - 1);
    t->clear_dims();
    for (auto d : dims) t->add_dims(d);
    return name;
  }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> inputs) {
    auto* n = m_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(op + std::to_string(count_));
    for (auto& i : inputs) n->add_input(i);
    n->add_output("t" + std::to_string(count_++));
    return n;
  }
  static void attr(onnx::NodeProto* n, const std::string& k, std::vector<std::int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  static void attr(onnx::NodeProto* n, const std::string& k, std::int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto* n, const std::string& k, float v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr(onnx::NodeProto* n, const std::string& k, const char* v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  // A one-element float tensor attribute (ConstantOfShape's value).
  static void attr_tensor(onnx::NodeProto* n, const std::string& k, float v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
    a->mutable_t()->add_dims(1);
    a->mutable_t()->add_float_data(v);
  }
  // A node with several outputs.
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> inputs, int outputs) {
    auto* n = node(op, std::move(inputs));
    for (int o = 1; o < outputs; ++o) n->add_output("t" + std::to_string(count_++));
    return n;
  }
  void metadata(const std::string& key, const std::string& value) {
    auto* p = m_.add_metadata_props();
    p->set_key(key);
    p->set_value(value);
  }
  // Declares `output` as the graph's N x classes output and writes the model to `path`. Unless the
  // test named one, the model's metadata names its preprocessing `none` (pixels in [0, 1] as they
  // are), so loading it prints no warning about an assumed preprocessing.
  std::string write(const std::filesystem::path& path, const std::string& output, std::int64_t classes) {
    bool named = false;
    for (const auto& p : m_.metadata_props()) named = named || p.key() == "fool.preprocess";
    if (!named) metadata("fool.preprocess", "none");
    auto* out = m_.mutable_graph()->add_output();
    out->set_name(output);
    auto* tt = out->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    tt->mutable_shape()->add_dim()->set_dim_value(classes);
    std::string bytes;
    m_.SerializeToString(&bytes);
    write_file_atomic(path.string(), bytes);
    return path.string();
  }

 private:
  onnx::ModelProto m_;
  Rng rng_;
  int count_ = 0;
};

inline std::string out_of(onnx::NodeProto* n) { return n->output(0); }

}  // namespace fool::testing
