// The one ONNX graph builder: what it writes reads back as written, attribute setters replace,
// tensor values read from raw data and typed fields alike, and ONNX's checker accepts its models.
#include "fool/model/onnx/graph_builder.h"

#include <gtest/gtest.h>
#include <onnx/checker.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fool {
namespace {

TEST(GraphBuilder, AModelReadsBackAsBuiltAndPassesTheChecker) {
  onnx_build::GraphBuilder b("fool test", 13);
  b.graph().set_name("test");  // (the checker wants a named graph; train and caffe name theirs)
  b.input("x", {4});
  const std::vector<float> w = {1.0f, -2.0f, 0.5f, 4.0f, 0.0f, 3.0f, -1.0f, 2.0f};
  b.float_initializer("w", {2, 4}, w);
  b.float_initializer("bias", {2}, std::vector<float>{0.25f, -0.25f});
  auto* gemm = b.node("Gemm", "gemm", {"x", "w", "bias"}, {"y"});
  onnx_build::set_int(gemm, "transB", 0);
  onnx_build::set_int(gemm, "transB", 1);  // replaces, does not add a second attribute
  onnx_build::set_int(b.node("Softmax", "softmax", {"y"}, {"p"}), "axis", 1);
  b.output("p", {2});
  b.metadata("fool.preprocess", "none");
  EXPECT_TRUE(b.has_metadata("fool.preprocess"));
  EXPECT_FALSE(b.has_metadata("fool.labels"));
  EXPECT_NO_THROW(onnx::checker::check_model(b.model()));

  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(b.serialize()));
  EXPECT_EQ(m.ir_version(), 7);
  EXPECT_EQ(m.producer_name(), "fool test");
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).version(), 13);
  const auto& g = m.graph();
  ASSERT_EQ(g.node_size(), 2);
  EXPECT_EQ(g.node(0).op_type(), "Gemm");
  EXPECT_EQ(g.node(0).name(), "gemm");
  ASSERT_EQ(g.node(0).attribute_size(), 1);
  EXPECT_EQ(g.node(0).attribute(0).i(), 1);
  ASSERT_EQ(g.initializer_size(), 2);
  EXPECT_EQ(std::vector<std::int64_t>(g.initializer(0).dims().begin(), g.initializer(0).dims().end()),
            (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(onnx_build::tensor_values<float>(g.initializer(0)), w);
  const auto& in = g.input(0).type().tensor_type().shape();
  ASSERT_EQ(in.dim_size(), 2);
  EXPECT_EQ(in.dim(0).dim_param(), "N");
  EXPECT_EQ(in.dim(1).dim_value(), 4);
}

TEST(GraphBuilder, TensorValuesReadRawDataAndTypedFieldsAndRefuseOtherTypes) {
  const onnx::TensorProto raw = onnx_build::int64_tensor("s", {1, -1, 7});
  EXPECT_EQ(raw.dims_size(), 1);
  EXPECT_EQ(raw.dims(0), 3);
  EXPECT_EQ(onnx_build::tensor_values<std::int64_t>(raw), (std::vector<std::int64_t>{1, -1, 7}));
  EXPECT_FALSE(onnx_build::tensor_values<float>(raw).has_value());  // an int64 tensor is not float

  onnx::TensorProto typed;
  typed.set_data_type(onnx::TensorProto::INT64);
  typed.add_int64_data(5);
  typed.add_int64_data(6);
  EXPECT_EQ(onnx_build::tensor_values<std::int64_t>(typed), (std::vector<std::int64_t>{5, 6}));
  onnx_build::set_int64_values(&typed, {8, 9, 10});
  EXPECT_EQ(typed.int64_data_size(), 0);
  EXPECT_EQ(onnx_build::tensor_values<std::int64_t>(typed), (std::vector<std::int64_t>{8, 9, 10}));

  onnx::TensorProto ragged = onnx_build::int64_tensor("r", {1});
  ragged.mutable_raw_data()->push_back('\0');  // 9 bytes: not a whole number of int64s
  EXPECT_FALSE(onnx_build::tensor_values<std::int64_t>(ragged).has_value());
  onnx::TensorProto external = onnx_build::int64_tensor("e", {1});
  external.set_data_location(onnx::TensorProto::EXTERNAL);
  EXPECT_FALSE(onnx_build::tensor_values<std::int64_t>(external).has_value());

  onnx::TensorProto floats;
  floats.set_data_type(onnx::TensorProto::FLOAT);
  floats.add_float_data(2.5f);
  EXPECT_EQ(onnx_build::tensor_values<float>(floats), (std::vector<float>{2.5f}));
  const onnx::TensorProto shaped = onnx_build::int64_tensor("m", {1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(shaped.dims_size(), 2);
}

TEST(GraphBuilder, AppendNodeAndAttributeSettersOnAListBeingRewritten) {
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  auto* c = onnx_build::append_node(&nodes, "Constant", "c", {}, {"k"});
  onnx_build::set_tensor(c, "value", onnx_build::int64_tensor("", {3}));
  onnx_build::set_string(c, "note", "a");
  onnx_build::set_string(c, "note", "b");
  onnx_build::set_ints(c, "perm", {0, 2, 3, 1});
  onnx_build::set_float(c, "alpha", 0.5f);
  ASSERT_EQ(nodes.size(), 1);
  ASSERT_EQ(c->attribute_size(), 4);
  EXPECT_EQ(c->attribute(1).s(), "b");
  EXPECT_EQ(c->attribute(2).ints_size(), 4);
  EXPECT_EQ(onnx_build::tensor_values<std::int64_t>(c->attribute(0).t()), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(c->output(0), "k");
}

}  // namespace
}  // namespace fool
