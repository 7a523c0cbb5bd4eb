// The loader's rewrites of the forms people export: a plain float32 N x C x H x W export passes
// through unchanged (so the forms cost a plain model nothing per image), and the fixed batch axis
// is freed only where the rewrite is mechanical.
#include "fool/model/onnx/onnx_forms.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>

#include "fool/io/files.h"
#include "fool/model/onnx/graph_builder.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/testing/onnx_test_graph.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

onnx::ModelProto parse(const std::string& path) {
  const auto bytes = read_file(path);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  return m;
}

std::vector<std::int64_t> int64s(const onnx::TensorProto& t) {
  return onnx_build::tensor_values<std::int64_t>(t).value_or(std::vector<std::int64_t>{});
}

const onnx::TensorProto& initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return t;
  throw std::runtime_error("no initializer " + name);
}

TEST(OnnxForms, APlainExportPassesThroughUnchanged) {
  for (const char* name : {"mnist_bn_cnn.onnx", "squeezenet1_1_random.onnx"}) {
    SCOPED_TRACE(name);
    const std::string path = testing::fixtures_dir() + "/" + name;
    const onnx::ModelProto file = parse(path);
    onnx::ModelProto m = file;
    normalise_forms(&m, path, FormChoices{});
    EXPECT_EQ(m.SerializeAsString(), file.SerializeAsString());
    EXPECT_EQ(OnnxModel::load(path).proto().SerializeAsString(), file.SerializeAsString());
  }
}

// x [B,1,4,4] -> Reshape(shape) -> Gemm -> y, written with the batch axis fixed to `batch`.
onnx::ModelProto reshape_graph(std::int64_t batch, std::vector<std::int64_t> shape, bool allowzero = false,
                               bool shared = false) {
  const fs::path dir = fs::temp_directory_path() / ("fool_forms_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  testing::GraphBuilder g(14, {1, 4, 4});
  const std::string s = g.ints(shape);
  auto* r = g.node("Reshape", {"x", s});
  if (allowzero) testing::GraphBuilder::attr(r, "allowzero", std::int64_t{1});
  std::string last = testing::out_of(r);
  if (shared) last = testing::out_of(g.node("Add", {last, s}));  // the shape tensor used as data too
  auto* fc = g.node("Gemm", {last, g.weight({3, 16}), g.weight({3})});
  testing::GraphBuilder::attr(fc, "transB", std::int64_t{1});
  const std::string path = g.write(dir / "r.onnx", testing::out_of(fc), 3);
  onnx::ModelProto m = parse(path);
  fs::remove_all(dir);
  for (auto* v : {m.mutable_graph()->mutable_input(0), m.mutable_graph()->mutable_output(0)})
    v->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_value(batch);
  return m;
}

TEST(OnnxForms, AFixedBatchBecomesSymbolicAndAReshapeToItCopiesTheInputsAxis) {
  onnx::ModelProto m = reshape_graph(1, {1, -1});
  ASSERT_TRUE(free_batch_axis(&m));
  for (const auto* v : {&m.graph().input(0), &m.graph().output(0)}) {
    const auto& d = v->type().tensor_type().shape().dim(0);
    EXPECT_FALSE(d.has_dim_value());
    EXPECT_EQ(d.dim_param(), "batch");
  }
  EXPECT_EQ(int64s(initializer(m, m.graph().node(0).input(1))), (std::vector<std::int64_t>{0, -1}));
  // The image axes stay.
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(2).dim_value(), 4);
}

TEST(OnnxForms, AFreeBatchIsLeftAlone) {
  onnx::ModelProto m = reshape_graph(1, {1, -1});
  ASSERT_TRUE(free_batch_axis(&m));
  const std::string once = m.SerializeAsString();
  EXPECT_FALSE(free_batch_axis(&m));
  EXPECT_EQ(m.SerializeAsString(), once);
}

TEST(OnnxForms, ReshapeTargetsThatAreNotTheBatchOrServeOtherNodesStay) {
  {
    onnx::ModelProto m = reshape_graph(2, {1, -1});  // the batch is 2: [1, -1] is not "the batch"
    ASSERT_TRUE(free_batch_axis(&m));
    EXPECT_EQ(int64s(initializer(m, m.graph().node(0).input(1))), (std::vector<std::int64_t>{1, -1}));
  }
  {
    onnx::ModelProto m = reshape_graph(1, {1, -1}, /*allowzero=*/true);  // 0 would mean a zero-sized axis
    ASSERT_TRUE(free_batch_axis(&m));
    EXPECT_EQ(int64s(initializer(m, m.graph().node(0).input(1))), (std::vector<std::int64_t>{1, -1}));
  }
  {
    onnx::ModelProto m = reshape_graph(1, {1, -1}, false, /*shared=*/true);  // also an Add's operand
    ASSERT_TRUE(free_batch_axis(&m));
    EXPECT_EQ(int64s(initializer(m, m.graph().node(0).input(1))), (std::vector<std::int64_t>{1, -1}));
  }
}

}  // namespace
}  // namespace fool
