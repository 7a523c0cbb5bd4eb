// The libtorch interpreter against OpenCV DNN's independent implementation of the same operators,
// on small graphs built here, plus its input gradients against finite differences.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "fool/core/rng.h"
#include "fool/io/files.h"
#include "fool/model/classifier.h"
#include "fool/model/factory.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/registry.h"
#include "fool/model/torch/torch_classifier.h"
#include "fool/testing/onnx_test_graph.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::fixtures_dir;
using testing::GraphBuilder;
using testing::out_of;

// The backend itself, without the factory's check that outputs are probabilities: these tests read
// the raw values of operator graphs through the classifier path.
std::unique_ptr<Classifier> raw_backend(const std::string& path, const ClassifierOptions& o) {
  return registered_backend(o.backend).load(OnnxModel::load(path, o.overrides), o);
}

class TorchOps : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_torch_ops_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Both backends on the same random batch: same probabilities; torch gradients match differences.
  void check(const std::string& path, ImageShape shape) {
    if (!backend_registered("opencv")) GTEST_SKIP() << "fool is built without the opencv backend";
    ClassifierOptions o;
    o.backend = Backend("opencv");
    auto cv = load_classifier(path, o);
    o.backend = Backend("torch");
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
  // The torch backend's raw output (no softmax) for one image whose pixels are 0.1, 0.2, ...
  std::vector<float> raw(const std::string& path, ImageShape shape) {
    ClassifierOptions o;
    o.backend = Backend("torch");
    o.overrides.output_is_probabilities = true;
    auto th = raw_backend(path, o);
    ImageBatch b(1, shape);
    for (std::size_t i = 0; i < shape.size(); ++i) b.data()[i] = pixel(i);
    const Matrix m = th->probabilities(b);
    return {m.data(), m.data() + m.cols()};
  }
  static float pixel(std::size_t i) { return static_cast<float>(i + 1) / 10.0f; }
  fs::path dir_;
};

TEST_F(TorchOps, ConvolutionalOperatorsAgreeWithOpenCv) {
  using G = GraphBuilder;
  G g(13, {3, 9, 9});
  auto* conv = g.node("Conv", {"x", g.weight({4, 3, 3, 3}), g.weight({4})});
  G::attr(conv, "kernel_shape", {3, 3});
  G::attr(conv, "pads", {1, 1, 1, 1});
  auto* bn = g.node("BatchNormalization",
                    {out_of(conv), g.weight({4}, 0.5f, 1.5f), g.weight({4}), g.weight({4}), g.weight({4}, 0.5f, 2.0f)});
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
    for (const Backend& backend : testing::registered_backends({"opencv", "torch"})) {
      ClassifierOptions o;
      o.backend = backend;
      o.overrides.output_is_probabilities = true;  // raw values out
      const Matrix p = raw_backend(path, o)->probabilities(b);
      for (std::size_t k = 0; k < 4; ++k) {
        const float want = op == "Clip" ? std::min(std::max(xs[k], -0.5f), 0.6f)
                                        : 2.0f * 0.1f * (xs[0] + xs[1] + xs[2] + xs[3]) + 0.5f * 0.2f;
        EXPECT_NEAR(p(0, k), want, 1e-6) << op << " on " << backend_name(backend);
      }
    }
  }
}

// Clip with one bound (the other input absent, or the other attribute before opset 11) clamps on
// that side only.
TEST_F(TorchOps, ClipWithOneBoundClampsThatSideOnly) {
  using G = GraphBuilder;
  const float xs[4] = {-0.9f, -0.2f, 0.3f, 0.8f};
  struct Form {
    std::int64_t opset;
    bool lower;  // the bound given is the lower one (-0.5), else the upper one (0.6)
  };
  for (const Form form : {Form{13, true}, Form{13, false}, Form{7, true}, Form{7, false}}) {
    G g(form.opset, {1, 2, 2});
    auto* flat = g.node("Flatten", {"x"});
    onnx::NodeProto* clip = nullptr;
    if (form.opset >= 11) {
      clip = form.lower ? g.node("Clip", {out_of(flat), g.weight({}, -0.5f, -0.5f)})
                        : g.node("Clip", {out_of(flat), "", g.weight({}, 0.6f, 0.6f)});
    } else {
      clip = g.node("Clip", {out_of(flat)});
      G::attr(clip, form.lower ? "min" : "max", form.lower ? -0.5f : 0.6f);
    }
    const std::string path =
        g.write(dir_ / ("clip" + std::to_string(form.opset) + (form.lower ? "lo" : "hi") + ".onnx"), out_of(clip), 4);
    ImageBatch b(1, {1, 2, 2});
    std::copy(xs, xs + 4, b.data());
    ClassifierOptions o;
    o.backend = Backend("torch");
    o.overrides.output_is_probabilities = true;  // raw values out
    const Matrix p = raw_backend(path, o)->probabilities(b);
    for (std::size_t k = 0; k < 4; ++k) {
      const float want = form.lower ? std::max(xs[k], -0.5f) : std::min(xs[k], 0.6f);
      EXPECT_EQ(p(0, k), want) << "opset " << form.opset << (form.lower ? " min" : " max") << " at " << k;
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
  o.backend = Backend("torch");
  o.overrides.output_is_probabilities = true;  // raw values out: compare them directly
  auto th = raw_backend(path, o);
  ImageBatch b(1, {1, 2, 3});
  for (int i = 0; i < 6; ++i) b.data()[i] = static_cast<float>(i + 1) / 10.0f;
  const Matrix p = th->probabilities(b);
  // Padded: 3 rows (one above) x 5 columns (two on the right) of 0.25 around [[.1 .2 .3] [.4 .5 .6]],
  // then transposed to 5 x 3 and flattened.
  const float padded[3][5] = {{.25f, .25f, .25f, .25f, .25f}, {.1f, .2f, .3f, .25f, .25f}, {.4f, .5f, .6f, .25f, .25f}};
  for (int c = 0; c < 5; ++c)
    for (int r = 0; r < 3; ++r) EXPECT_NEAR(p(0, static_cast<std::size_t>(c * 3 + r)), padded[r][c], 1e-6);
}

// Each element-wise operator against its ONNX definition, on pixels 0.1 .. 0.6.
TEST_F(TorchOps, ElementwiseOperatorsFollowTheirDefinitions) {
  using G = GraphBuilder;
  struct Case {
    std::string op;
    std::function<void(onnx::NodeProto*)> attrs;
    std::function<double(double)> want;
  };
  const std::vector<Case> cases = {
      {"Erf", nullptr, [](double v) { return std::erf(v); }},
      {"HardSwish", nullptr, [](double v) { return v * std::max(0.0, std::min(1.0, v / 6 + 0.5)); }},
      {"HardSigmoid",
       [](onnx::NodeProto* n) {
         G::attr(n, "alpha", 2.0f);
         G::attr(n, "beta", -0.3f);
       },
       [](double v) { return std::max(0.0, std::min(1.0, 2 * v - 0.3)); }},
      {"HardSigmoid", nullptr, [](double v) { return std::max(0.0, std::min(1.0, 0.2 * v + 0.5)); }},
      {"Softplus", nullptr, [](double v) { return std::log(std::exp(v) + 1); }},
      {"Softsign", nullptr, [](double v) { return v / (1 + std::abs(v)); }},
      {"Elu", [](onnx::NodeProto* n) { G::attr(n, "alpha", 0.5f); }, [](double v) { return v; }},
      {"Log", nullptr, [](double v) { return std::log(v); }},
      {"Reciprocal", nullptr, [](double v) { return 1 / v; }},
      {"Floor", nullptr, [](double v) { return std::floor(v * 10 / 4); }},  // on 2.5 x: see below
  };
  for (const auto& c : cases) {
    G g(14, {1, 2, 3});
    std::string x = "x";
    if (c.op == "Floor") x = out_of(g.node("Mul", {"x", g.weight({}, 2.5f, 2.5f)}));
    auto* n = g.node(c.op, {x});
    if (c.attrs) c.attrs(n);
    auto* flat = g.node("Flatten", {out_of(n)});
    const auto y = raw(g.write(dir_ / (c.op + ".onnx"), out_of(flat), 6), {1, 2, 3});
    for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR(y[i], c.want(pixel(i)), 1e-6) << c.op << " at " << pixel(i);
  }
}

TEST_F(TorchOps, BinaryOperatorsFollowTheirDefinitions) {
  using G = GraphBuilder;
  struct Case {
    std::string op;
    float b;
    std::int64_t fmod;
    std::function<double(double, double)> want;
  };
  const std::vector<Case> cases = {
      {"Pow", 3.0f, -1, [](double a, double b) { return std::pow(a, b); }},
      {"Pow", 2.0f, -1, [](double a, double b) { return std::pow(a, b); }},
      {"Mod", 0.25f, 1, [](double a, double b) { return std::fmod(a, b); }},
      {"Mod", -0.25f, 1, [](double a, double b) { return std::fmod(a, b); }},  // the dividend's sign
      {"Max", 0.35f, -1, [](double a, double b) { return std::max(a, b); }},
      {"Min", 0.35f, -1, [](double a, double b) { return std::min(a, b); }},
      {"Sub", 0.35f, -1, [](double a, double b) { return a - b; }},
  };
  for (const auto& c : cases) {
    G g(14, {1, 2, 3});
    auto* n = g.node(c.op, {"x", g.weight({}, c.b, c.b)});
    if (c.fmod >= 0) G::attr(n, "fmod", c.fmod);
    auto* flat = g.node("Flatten", {out_of(n)});
    const auto y = raw(g.write(dir_ / (c.op + ".onnx"), out_of(flat), 6), {1, 2, 3});
    for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR(y[i], c.want(pixel(i), c.b), 1e-6) << c.op << " " << c.b;
  }
}

// Integer Mod (fmod 0) takes the divisor's sign; Where/Not/Greater/Equal pick per element.
TEST_F(TorchOps, IntegerModAndSelectionFollowTheirDefinitions) {
  using G = GraphBuilder;
  G g(14, {1, 2, 3});
  // k = int(10 x) = 1..6; k mod -4 = -3, -2, -1, 0, -3, -2 (Python's %).
  auto* ten = g.node("Mul", {"x", g.weight({}, 10.0f, 10.0f)});
  auto* rounded = g.node("Round", {out_of(ten)});
  auto* k = g.node("Cast", {out_of(rounded)});
  G::attr(k, "to", std::int64_t{onnx::TensorProto::INT64});
  auto* mod = g.node("Mod", {out_of(k), g.ints({-4}, {})});
  auto* modf = g.node("Cast", {out_of(mod)});
  G::attr(modf, "to", std::int64_t{onnx::TensorProto::FLOAT});
  // where(not(x > 0.35) or x == 0.6, x, -x) -> 0.1 0.2 0.3 -0.4 -0.5 0.6
  auto* gt = g.node("Greater", {"x", g.weight({}, 0.35f, 0.35f)});
  auto* no = g.node("Not", {out_of(gt)});
  auto* eq = g.node("Equal", {out_of(k), g.ints({6}, {})});
  auto* either = g.node("Or", {out_of(no), out_of(eq)});
  auto* neg = g.node("Neg", {"x"});
  auto* where = g.node("Where", {out_of(either), "x", out_of(neg)});
  auto* cat = g.node("Concat", {out_of(modf), out_of(where)});
  G::attr(cat, "axis", std::int64_t{1});
  auto* flat = g.node("Flatten", {out_of(cat)});
  const auto y = raw(g.write(dir_ / "mod.onnx", out_of(flat), 12), {1, 2, 3});
  const float want[12] = {-3, -2, -1, 0, -3, -2, .1f, .2f, .3f, -.4f, -.5f, .6f};
  for (std::size_t i = 0; i < 12; ++i) EXPECT_NEAR(y[i], want[i], 1e-6) << i;
}

// Slice with inputs (opset 13: negative step, clamped out-of-range end, explicit axes) and with
// attributes (opset 9); Split with sizes as input (13) and attribute (11), reassembled in reverse.
TEST_F(TorchOps, SliceAndSplitFollowTheirDefinitionsAcrossOpsets) {
  using G = GraphBuilder;
  {
    G g(13, {1, 2, 3});
    auto* s = g.node("Slice", {"x", g.ints({-1}), g.ints({-100}), g.ints({3}), g.ints({-2})});
    auto* flat = g.node("Flatten", {out_of(s)});
    const auto y = raw(g.write(dir_ / "slice13.onnx", out_of(flat), 4), {1, 2, 3});
    const float want[4] = {.3f, .1f, .6f, .4f};  // columns 2, 0 of each row
    for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(y[i], want[i], 1e-6) << i;
  }
  {
    G g(9, {1, 2, 3});
    auto* s = g.node("Slice", {"x"});
    G::attr(s, "starts", {1, 1});
    G::attr(s, "ends", {1000, 3});
    G::attr(s, "axes", {2, 3});
    auto* flat = g.node("Flatten", {out_of(s)});
    const auto y = raw(g.write(dir_ / "slice9.onnx", out_of(flat), 2), {1, 2, 3});
    EXPECT_NEAR(y[0], .5f, 1e-6);
    EXPECT_NEAR(y[1], .6f, 1e-6);
  }
  for (std::int64_t opset : {11, 13}) {
    G g(opset, {1, 2, 3});
    auto* s = opset >= 13 ? g.node("Split", {"x", g.ints({1, 2})}, 2) : g.node("Split", {"x"}, 2);
    G::attr(s, "axis", std::int64_t{3});
    if (opset < 13) G::attr(s, "split", {1, 2});
    auto* cat = g.node("Concat", {s->output(1), s->output(0)});
    G::attr(cat, "axis", std::int64_t{3});
    auto* flat = g.node("Flatten", {out_of(cat)});
    const auto y = raw(g.write(dir_ / ("split" + std::to_string(opset) + ".onnx"), out_of(flat), 6), {1, 2, 3});
    const float want[6] = {.2f, .3f, .1f, .5f, .6f, .4f};
    for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR(y[i], want[i], 1e-6) << "opset " << opset << " at " << i;
  }
}

// What ViT and Swin exports do around the network: shapes, filled tensors, ranges, broadcasts and
// scattered updates.
TEST_F(TorchOps, ShapeArithmeticOperatorsFollowTheirDefinitions) {
  using G = GraphBuilder;
  G g(14, {1, 2, 3});
  auto* shape = g.node("Shape", {"x"});
  auto* twos = g.node("ConstantOfShape", {out_of(shape)});
  G::attr_tensor(twos, "value", 2.0f);
  auto* doubled = g.node("Mul", {"x", out_of(twos)});  // 2x
  auto* range =
      g.node("Range", {g.weight({}, .5f, .5f), g.weight({}, 3.4f, 3.4f), g.weight({}, 1.f, 1.f)});  // .5 1.5 2.5
  auto* row = g.node("Reshape", {out_of(range), g.ints({1, 1, 1, 3})});
  auto* wide = g.node("Expand", {out_of(row), g.ints({2, 1})});  // [1,1,2,3]
  auto* sum = g.node("Add", {out_of(doubled), out_of(wide)});
  // Row 1 of channel 0 of image 0 replaced by 7, 8, 9.
  auto* scat = g.node("ScatterND", {out_of(sum), g.ints({0, 0, 1}, {1, 3}), g.weight({1, 3}, 7.f, 7.f)});
  auto* tile = g.node("Tile", {out_of(scat), g.ints({1, 1, 1, 2})});
  auto* flat = g.node("Flatten", {out_of(tile)});
  const auto y = raw(g.write(dir_ / "shapes.onnx", out_of(flat), 12), {1, 2, 3});
  const float want[12] = {.2f + .5f, .4f + 1.5f, .6f + 2.5f, .2f + .5f, .4f + 1.5f, .6f + 2.5f, 7, 7, 7, 7, 7, 7};
  for (std::size_t i = 0; i < 12; ++i) EXPECT_NEAR(y[i], want[i], 1e-5) << i;
}

// LayerNormalization (opset 17) over the last axis; ReduceSum with axes as input (13) and as an
// attribute (11); ReduceMax without keepdims.
TEST_F(TorchOps, NormalisationAndReductionsFollowTheirDefinitions) {
  using G = GraphBuilder;
  {
    G g(17, {1, 2, 3});
    auto* ln = g.node("LayerNormalization", {"x", g.weight({3}, 2.f, 2.f), g.weight({3}, 1.f, 1.f)});
    G::attr(ln, "epsilon", 0.01f);
    auto* flat = g.node("Flatten", {out_of(ln)});
    const auto y = raw(g.write(dir_ / "ln.onnx", out_of(flat), 6), {1, 2, 3});
    // Each row (a, a+.1, a+.2): mean a+.1, variance .02/3.
    const double inv = 1.0 / std::sqrt(0.02 / 3 + 0.01);
    const double want[3] = {1 - 2 * 0.1 * inv, 1.0, 1 + 2 * 0.1 * inv};
    for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR(y[i], want[i % 3], 1e-5) << i;
  }
  for (std::int64_t opset : {11, 13}) {
    G g(opset, {1, 2, 3});
    auto* rs = opset >= 13 ? g.node("ReduceSum", {"x", g.ints({3})}) : g.node("ReduceSum", {"x"});
    if (opset < 13) G::attr(rs, "axes", std::vector<std::int64_t>{3});
    auto* rm = g.node("ReduceMax", {"x"});
    G::attr(rm, "axes", std::vector<std::int64_t>{2});
    G::attr(rm, "keepdims", std::int64_t{0});
    auto* f1 = g.node("Flatten", {out_of(rs)});
    auto* f2 = g.node("Flatten", {out_of(rm)});
    auto* cat = g.node("Concat", {out_of(f1), out_of(f2)});
    G::attr(cat, "axis", std::int64_t{1});
    const auto y = raw(g.write(dir_ / ("reduce" + std::to_string(opset) + ".onnx"), out_of(cat), 5), {1, 2, 3});
    const float want[5] = {.6f, 1.5f, .4f, .5f, .6f};
    for (std::size_t i = 0; i < 5; ++i) EXPECT_NEAR(y[i], want[i], 1e-6) << "opset " << opset << " at " << i;
  }
}

// The chains PyTorch's exporter writes for GELU and (before opset 17) LayerNorm, which the
// interpreter runs as single fused steps: same values as the definitions, and gradients.
TEST_F(TorchOps, ExportedGeluAndLayerNormChainsKeepTheirValuesAndGradients) {
  using G = GraphBuilder;
  G g(14, {1, 2, 3});
  auto* div = g.node("Div", {"x", g.weight({}, 1.4142135f, 1.4142135f)});
  auto* erf = g.node("Erf", {out_of(div)});
  auto* add = g.node("Add", {out_of(erf), g.weight({}, 1.f, 1.f)});
  auto* mul = g.node("Mul", {"x", out_of(add)});
  auto* gelu = g.node("Mul", {out_of(mul), g.weight({}, .5f, .5f)});
  auto* mean = g.node("ReduceMean", {out_of(gelu)});
  G::attr(mean, "axes", std::vector<std::int64_t>{-1});
  auto* sub = g.node("Sub", {out_of(gelu), out_of(mean)});
  auto* pow = g.node("Pow", {out_of(sub), g.weight({}, 2.f, 2.f)});
  auto* var = g.node("ReduceMean", {out_of(pow)});
  G::attr(var, "axes", std::vector<std::int64_t>{-1});
  auto* eps = g.node("Add", {out_of(var), g.weight({}, .01f, .01f)});
  auto* sd = g.node("Sqrt", {out_of(eps)});
  auto* norm = g.node("Div", {out_of(sub), out_of(sd)});
  auto* scale = g.node("Mul", {out_of(norm), g.weight({3}, 2.f, 2.f)});
  auto* bias = g.node("Add", {out_of(scale), g.weight({3}, 1.f, 1.f)});
  auto* flat = g.node("Flatten", {out_of(bias)});
  const std::string path = g.write(dir_ / "chains.onnx", out_of(flat), 6);
  const auto y = raw(path, {1, 2, 3});
  for (std::size_t row = 0; row < 2; ++row) {
    double v[3], m = 0, s = 0;
    for (std::size_t c = 0; c < 3; ++c) {
      const double x = pixel(row * 3 + c);
      v[c] = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
      m += v[c] / 3;
    }
    for (double e : v) s += (e - m) * (e - m) / 3;
    for (std::size_t c = 0; c < 3; ++c) EXPECT_NEAR(y[row * 3 + c], 2 * (v[c] - m) / std::sqrt(s + 0.01) + 1, 1e-5);
  }
  // Input gradients of the softmax over these six values against central differences.
  ClassifierOptions o;
  o.backend = Backend("torch");
  auto th = load_differentiable_classifier(path, o);
  ImageBatch one(1, {1, 2, 3}), grad;
  for (std::size_t i = 0; i < 6; ++i) one.data()[i] = pixel(i);
  th->probabilities_and_gradients(one, {4}, &grad);
  const float h = 1e-3f;
  for (std::size_t px = 0; px < 6; ++px) {
    ImageBatch up = one, down = one;
    up.data()[px] += h;
    down.data()[px] -= h;
    const double fd = (th->probabilities(up)(0, 4) - th->probabilities(down)(0, 4)) / (2.0 * h);
    EXPECT_NEAR(grad.data()[px], fd, 2e-3 + 0.05 * std::abs(fd)) << "pixel " << px;
  }
}

// A batch is split over the backend's threads: each row's probabilities and gradient are the ones
// that image gets alone.
TEST_F(TorchOps, SplitBatchesGiveEachRowItsOwnProbabilitiesAndGradient) {
  ClassifierOptions o;
  o.backend = Backend("torch");
  o.threads = 2;
  auto th = load_differentiable_classifier(fixtures_dir() + "/mnist_bn_cnn.onnx", o);
  ImageBatch b(5, th->spec().input), grads;
  Rng rng(3);
  for (std::size_t i = 0; i < b.size() * b.shape().size(); ++i) b.data()[i] = static_cast<float>(rng.uniform());
  const std::vector<int> targets = {0, 3, 9, 1, 3};
  const Matrix all = th->probabilities_and_gradients(b, targets, &grads);
  const Matrix plain = th->probabilities(b);
  for (std::size_t r = 0; r < 5; ++r) {
    ImageBatch one = b.slice(r, r + 1), g1;
    const Matrix alone = th->probabilities_and_gradients(one, {targets[r]}, &g1);
    for (std::size_t k = 0; k < all.cols(); ++k) {
      EXPECT_NEAR(all(r, k), alone(0, k), 1e-6) << r;
      EXPECT_NEAR(plain(r, k), alone(0, k), 1e-6) << r;
    }
    for (std::size_t px = 0; px < b.shape().size(); ++px)
      EXPECT_NEAR(grads.data()[r * b.shape().size() + px], g1.data()[px], 1e-6) << r << " " << px;
  }
}

// Every operator in the table runs: none is a name without a function.
TEST(TorchOperatorTable, IsSortedAndComplete) {
  const auto& names = torch_supported_operators();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const char* op :
       {"Erf", "Pow", "Slice", "ConstantOfShape", "Expand", "Equal", "Where", "HardSwish", "HardSigmoid", "Mod",
        "Range", "ScatterND", "Not", "LayerNormalization", "Split", "Conv", "Gemm"})
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), std::string(op))) << op;
}

// docs/operators.md is what the table generates (regenerate: cmake --build build --target operators_doc).
TEST(TorchOperatorTable, DocsListTheTable) {
  std::ifstream f(std::string(FOOL_DOCS_DIR) + "/operators.md");
  ASSERT_TRUE(f.good()) << "docs/operators.md is missing";
  std::stringstream s;
  s << f.rdbuf();
  EXPECT_EQ(s.str(), torch_operators_markdown())
      << "docs/operators.md is out of date: run cmake --build build --target operators_doc";
}

}  // namespace
}  // namespace fool
