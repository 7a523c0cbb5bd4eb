// The libtorch interpreter against OpenCV DNN's independent implementation of the same operators,
// on small graphs built here, plus its input gradients against finite differences.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>

#include "fool/model/classifier.h"
#include "fool/model/factory.h"
#include "fool/io/files.h"
#include "fool/testing/onnx_test_graph.h"
#include "fool/core/rng.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::GraphBuilder;
using testing::out_of;


class TorchOps : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_torch_ops_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Both backends on the same random batch: same probabilities; torch gradients match differences.
  void check(const std::string& path, ImageShape shape) {
    ClassifierOptions o;
    auto cv = load_classifier(path, o);
    o.backend = Backend::Torch;
    auto th = load_differentiable_classifier(path, o);
    ImageBatch b(3, shape);
    Rng rng(5);
    for (std::size_t i = 0; i < 3 * shape.size(); ++i) b.data()[i] = static_cast<float>(rng.uniform());
    const Matrix a = cv->probabilities(b), t = th->probabilities(b);
    ASSERT_EQ(a.cols(), t.cols());
    for (std::size_t i = 0; i < a.rows() * a.cols(); ++i) EXPECT_NEAR(a.data()[i], t.data()[i], 1e-5) << i;
    ImageBatch one = b.slice(0, 1), grad;
    th->probabilities_and_gradients(one, {1}, &grad);
    const float h = 1e-3f;
    for (std::size_t px : {std::size_t{0}, shape.size() / 2, shape.size() - 1}) {
      ImageBatch up = one, down = one;
      up.data()[px] += h;
      down.data()[px] -= h;
      const double fd = (th->probabilities(up)(0, 1) - th->probabilities(down)(0, 1)) / (2.0 * h);
      EXPECT_NEAR(grad.data()[px], fd, 2e-3 + 0.05 * std::abs(fd)) << "pixel " << px;
    }
  }
  fs::path dir_;
};

TEST_F(TorchOps, ConvolutionalOperatorsAgreeWithOpenCv) {
  using G = GraphBuilder;
  G g(13, {3, 9, 9});
  auto* conv = g.node("Conv", {"x", g.weight({4, 3, 3, 3}), g.weight({4})});
  G::attr(conv, "kernel_shape", {3, 3});
  G::attr(conv, "pads", {1, 1, 1, 1});
  auto* bn = g.node("BatchNormalization", {out_of(conv), g.weight({4}, 0.5f, 1.5f), g.weight({4}),
                                           g.weight({4}), g.weight({4}, 0.5f, 2.0f)});
  auto* relu = g.node("Relu", {out_of(bn)});
  auto* lrn = g.node("LRN", {out_of(relu)});
  G::attr(lrn, "size", std::int64_t{3});
  G::attr(lrn, "alpha", 0.01f);
  G::attr(lrn, "beta", 0.75f);
  G::attr(lrn, "bias", 1.0f);
  auto* pool = g.node("MaxPool", {out_of(lrn)});
  G::attr(pool, "kernel_shape", {2, 2});
  G::attr(pool, "strides", {2, 2});
  G::attr(pool, "ceil_mode", std::int64_t{1});
  auto* sig = g.node("Sigmoid", {out_of(pool)});
  auto* tanh = g.node("Tanh", {out_of(pool)});
  auto* cat = g.node("Concat", {out_of(sig), out_of(tanh)});
  G::attr(cat, "axis", std::int64_t{1});
  auto* avg = g.node("AveragePool", {out_of(cat)});
  G::attr(avg, "kernel_shape", {3, 3});
  G::attr(avg, "strides", {1, 1});
  G::attr(avg, "pads", {1, 1, 1, 1});
  auto* conv2 = g.node("Conv", {out_of(avg), g.weight({6, 8, 1, 1})});
  G::attr(conv2, "kernel_shape", {1, 1});
  auto* gap = g.node("GlobalAveragePool", {out_of(conv2)});
  auto* flat = g.node("Flatten", {out_of(gap)});
  auto* gemm = g.node("Gemm", {out_of(flat), g.weight({5, 6}), g.weight({5})});
  G::attr(gemm, "transB", std::int64_t{1});
  G::attr(gemm, "alpha", 2.0f);
  G::attr(gemm, "beta", 0.5f);
  auto* mul = g.node("Mul", {out_of(gemm), g.weight({5}, 1.0f, 3.0f)});
  auto* add = g.node("Add", {out_of(mul), g.weight({5})});
  auto* drop = g.node("Dropout", {out_of(add)});
  auto* id = g.node("Identity", {out_of(drop)});
  auto* sm = g.node("Softmax", {out_of(id)});
  G::attr(sm, "axis", std::int64_t{1});
  check(g.write(dir_ / "conv.onnx", out_of(sm), 5), {3, 9, 9});
}

TEST_F(TorchOps, ReshapeMatMulAndClipAgreeWithOpenCv) {
  using G = GraphBuilder;
  G g(11, {1, 4, 4});
  auto* reshape = g.node("Reshape", {"x", g.ints({0, 16})});
  auto* mm = g.node("MatMul", {out_of(reshape), g.weight({16, 6})});
  auto* clip = g.node("Clip", {out_of(mm), g.weight({}, -0.5f, -0.5f), g.weight({}, 0.6f, 0.6f)});
  auto* sm = g.node("Softmax", {out_of(clip)});
  G::attr(sm, "axis", std::int64_t{1});
  check(g.write(dir_ / "shape.onnx", out_of(sm), 6), {1, 4, 4});
}

// OpenCV 4.6 drops Gemm's C when beta != 1 and its alpha when beta == 1, and ignores Clip bounds
// given as inputs; fool rewrites those forms before handing the graph over. Both backends must
// give the operators' definitions.
TEST_F(TorchOps, GemmAlphaBetaAndClipInputsFollowTheirDefinitionsInBothBackends) {
  using G = GraphBuilder;
  const float xs[4] = {0.1f, 0.9f, 0.3f, 0.7f};
  for (const std::string op : {"Clip", "Gemm"}) {
    G g(13, {1, 2, 2});
    auto* flat = g.node("Flatten", {"x"});
    onnx::NodeProto* last;
    if (op == "Clip") {
      last = g.node("Clip", {out_of(flat), g.weight({}, -0.5f, -0.5f), g.weight({}, 0.6f, 0.6f)});
    } else {
      last = g.node("Gemm", {out_of(flat), g.weight({4, 4}, 0.1f, 0.1f), g.weight({4}, 0.2f, 0.2f)});
      G::attr(last, "transB", std::int64_t{1});
      G::attr(last, "alpha", 2.0f);
      G::attr(last, "beta", 0.5f);
    }
    const std::string path = g.write(dir_ / (op + ".onnx"), out_of(last), 4);
    ImageBatch b(1, {1, 2, 2});
    std::copy(xs, xs + 4, b.data());
    for (Backend backend : {Backend::OpenCv, Backend::Torch}) {
      ClassifierOptions o;
      o.backend = backend;
      o.overrides.output_is_probabilities = true;  // raw values out
      const Matrix p = load_classifier(path, o)->probabilities(b);
      for (std::size_t k = 0; k < 4; ++k) {
        const float want = op == "Clip" ? std::min(std::max(xs[k], -0.5f), 0.6f)
                                        : 2.0f * 0.1f * (xs[0] + xs[1] + xs[2] + xs[3]) + 0.5f * 0.2f;
        EXPECT_NEAR(p(0, k), want, 1e-6) << op << " on " << backend_name(backend);
      }
    }
  }
}

TEST_F(TorchOps, PadTransposeSqueezeAndUnsqueezeMatchTheirDefinitions) {
  // OpenCV's importer mishandles some of these (a Squeeze after an Unsqueeze loses the batch
  // axis); check the torch interpreter against the definitions directly.
  using G = GraphBuilder;
  G g(13, {1, 2, 3});
  auto* pad = g.node("Pad", {"x", g.ints({0, 0, 1, 0, 0, 0, 0, 2}), g.weight({}, 0.25f, 0.25f)});
  auto* tr = g.node("Transpose", {out_of(pad)});
  G::attr(tr, "perm", {0, 1, 3, 2});
  auto* unsq = g.node("Unsqueeze", {out_of(tr), g.ints({0})});
  auto* sq = g.node("Squeeze", {out_of(unsq), g.ints({0})});
  auto* flat = g.node("Flatten", {out_of(sq)});
  const std::string path = g.write(dir_ / "pad.onnx", out_of(flat), 15);
  ClassifierOptions o;
  o.backend = Backend::Torch;
  o.overrides.output_is_probabilities = true;  // raw values out: compare them directly
  auto th = load_classifier(path, o);
  ImageBatch b(1, {1, 2, 3});
  for (int i = 0; i < 6; ++i) b.data()[i] = static_cast<float>(i + 1) / 10.0f;
  const Matrix p = th->probabilities(b);
  // Padded: 3 rows (one above) x 5 columns (two on the right) of 0.25 around [[.1 .2 .3] [.4 .5 .6]],
  // then transposed to 5 x 3 and flattened.
  const float padded[3][5] = {{.25f, .25f, .25f, .25f, .25f}, {.1f, .2f, .3f, .25f, .25f}, {.4f, .5f, .6f, .25f, .25f}};
  for (int c = 0; c < 5; ++c)
    for (int r = 0; r < 3; ++r) EXPECT_NEAR(p(0, static_cast<std::size_t>(c * 3 + r)), padded[r][c], 1e-6);
}

}  // namespace
}  // namespace fool
