// The graph rewrites fool applies before OpenCV 4.6 imports a model (simplified_for_opencv),
// each checked against the torch backend, which runs the original graph, on batches of more than
// one image (the forms OpenCV gets wrong often work for one image and fail for several).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <filesystem>

#include "fool/core/rng.h"
#include "fool/model/classifier.h"
#include "fool/model/factory.h"
#include "fool/model/onnx/graph_builder.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/opencv/opencv_rewrites.h"
#include "fool/testing/onnx_test_graph.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::GraphBuilder;
using testing::out_of;

class OpenCvRewrites : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_opencv_rewrites_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Both backends on the same random batch of `n` images: the same probabilities.
  static void expect_backends_agree(const std::string& path, ImageShape shape, std::size_t n) {
    ClassifierOptions o;
    o.backend = Backend("opencv");
    auto cv = load_classifier(path, o);
    o.backend = Backend("torch");
    auto th = load_classifier(path, o);
    ImageBatch b(n, shape);
    Rng rng(9);
    for (std::size_t i = 0; i < n * shape.size(); ++i) b.data()[i] = static_cast<float>(rng.uniform());
    const Matrix a = cv->probabilities(b), t = th->probabilities(b);
    ASSERT_EQ(a.rows(), n);
    ASSERT_EQ(a.cols(), t.cols());
    for (std::size_t i = 0; i < a.rows() * a.cols(); ++i) EXPECT_NEAR(a.data()[i], t.data()[i], 1e-5) << i;
  }

  // conv -> squeeze-and-excitation (pool, 1x1 convs, gate) -> Mul of the gate and the feature map
  // -> pool -> classifier, as torchvision's EfficientNet, MobileNetV3 and RegNetY build it.
  // gate_first: Mul(gate, features) (torchvision's order) or Mul(features, gate).
  std::string squeeze_excitation_model(const std::string& gate, bool gate_first) {
    using G = GraphBuilder;
    G g(13, {3, 8, 8});
    auto* conv = g.node("Conv", {"x", g.weight({6, 3, 3, 3}), g.weight({6})});
    G::attr(conv, "kernel_shape", {3, 3});
    G::attr(conv, "pads", {1, 1, 1, 1});
    auto* feat = g.node("Relu", {out_of(conv)});
    auto* pool = g.node("GlobalAveragePool", {out_of(feat)});
    auto* fc1 = g.node("Conv", {out_of(pool), g.weight({3, 6, 1, 1}), g.weight({3})});
    G::attr(fc1, "kernel_shape", {1, 1});
    auto* act = g.node("Relu", {out_of(fc1)});
    auto* fc2 = g.node("Conv", {out_of(act), g.weight({6, 3, 1, 1}, -2.0f, 2.0f), g.weight({6})});
    G::attr(fc2, "kernel_shape", {1, 1});
    auto* gate_node = g.node(gate, {out_of(fc2)});
    auto* mul = gate_first ? g.node("Mul", {out_of(gate_node), out_of(feat)})
                           : g.node("Mul", {out_of(feat), out_of(gate_node)});
    auto* pool2 = g.node("GlobalAveragePool", {out_of(mul)});
    auto* flat = g.node("Flatten", {out_of(pool2)});
    auto* fc = g.node("Gemm", {out_of(flat), g.weight({5, 6}, -3.0f, 3.0f), g.weight({5})});
    GraphBuilder::attr(fc, "transB", std::int64_t{1});
    auto* sm = g.node("Softmax", {out_of(fc)});
    return g.write(dir_ / ("se_" + gate + (gate_first ? "_first" : "_second") + ".onnx"), out_of(sm), 5);
  }

  // A scalar int64 Constant node, as PyTorch's exporter writes indices and divisors.
  static std::string scalar(GraphBuilder& g, std::int64_t value) {
    auto* c = g.node("Constant", {});
    onnx::TensorProto t = onnx_build::int64_tensor("", {value});
    t.clear_dims();
    onnx_build::set_tensor(c, "value", std::move(t));
    return out_of(c);
  }

  // ShuffleNet's channel shuffle as PyTorch 1.13 exports it with a dynamic batch axis: the target
  // shapes of view(n, groups, c / groups, h, w) and view(n, -1, h, w) computed from Shape ->
  // Gather -> Div -> Cast -> Unsqueeze -> Concat, a Transpose between them.
  std::string channel_shuffle_model() {
    using G = GraphBuilder;
    G g(11, {3, 6, 6});
    auto* conv = g.node("Conv", {"x", g.weight({6, 3, 1, 1}), g.weight({6})});
    G::attr(conv, "kernel_shape", {1, 1});
    const std::string y = out_of(g.node("Relu", {out_of(conv)}));
    const std::string shape = out_of(g.node("Shape", {y}));
    std::string dim[4];
    for (int i = 0; i < 4; ++i) {
      auto* u = g.node("Unsqueeze", {out_of(g.node("Gather", {shape, scalar(g, i)}))});
      G::attr(u, "axes", std::vector<std::int64_t>{0});
      dim[i] = out_of(u);
    }
    auto* div = g.node("Div", {out_of(g.node("Gather", {shape, scalar(g, 1)})), scalar(g, 2)});
    auto* cast = g.node("Cast", {out_of(div)});
    G::attr(cast, "to", std::int64_t{onnx::TensorProto::INT64});
    auto* per_group = g.node("Unsqueeze", {out_of(cast)});
    G::attr(per_group, "axes", std::vector<std::int64_t>{0});
    auto* grouped = g.node("Concat", {dim[0], g.ints({2}), out_of(per_group), dim[2], dim[3]});
    G::attr(grouped, "axis", std::int64_t{0});
    auto* r1 = g.node("Reshape", {y, out_of(grouped)});
    auto* tr = g.node("Transpose", {out_of(r1)});
    G::attr(tr, "perm", {0, 2, 1, 3, 4});
    auto* flat = g.node("Concat", {dim[0], g.ints({-1}), dim[2], dim[3]});
    G::attr(flat, "axis", std::int64_t{0});
    auto* r2 = g.node("Reshape", {out_of(tr), out_of(flat)});
    auto* pool = g.node("GlobalAveragePool", {out_of(r2)});
    auto* vec = g.node("Flatten", {out_of(pool)});
    auto* fc = g.node("Gemm", {out_of(vec), g.weight({5, 6}, -3.0f, 3.0f), g.weight({5})});
    G::attr(fc, "transB", std::int64_t{1});
    auto* sm = g.node("Softmax", {out_of(fc)});
    return g.write(dir_ / "channel_shuffle.onnx", out_of(sm), 5);
  }

  fs::path dir_;
};

TEST_F(OpenCvRewrites, SqueezeExcitationRunsOnBatchesAndAgreesWithTorch) {
  for (bool gate_first : {true, false}) {
    SCOPED_TRACE(gate_first ? "gate first" : "gate second");
    const std::string path = squeeze_excitation_model("Sigmoid", gate_first);
    expect_backends_agree(path, {3, 8, 8}, 1);
    expect_backends_agree(path, {3, 8, 8}, 5);
  }
}

TEST_F(OpenCvRewrites, ShapeArithmeticWithADynamicBatchIsFoldedAndAgreesWithTorch) {
  const std::string path = channel_shuffle_model();
  expect_backends_agree(path, {3, 6, 6}, 1);
  expect_backends_agree(path, {3, 6, 6}, 4);
}

TEST(OpenCvSimplifiedGraph, DropsPassThroughNodes) {
  const OnnxModel m = OnnxModel::load(testing::fixtures_dir() + "/squeezenet1_1_random.onnx");
  onnx::ModelProto simplified;
  ASSERT_TRUE(simplified.ParseFromString(simplified_for_opencv(m)));
  int identities = 0;
  for (const auto& n : m.proto().graph().node()) identities += n.op_type() == "Identity";
  EXPECT_GT(identities, 0);
  for (const auto& n : simplified.graph().node()) EXPECT_NE(n.op_type(), "Identity");
  EXPECT_EQ(simplified.graph().node_size(), m.proto().graph().node_size() - identities);
}

}  // namespace
}  // namespace fool
