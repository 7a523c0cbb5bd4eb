// The oneDNN backend's planner: what it fuses (BatchNorm folded, activation / residual add / swish
// fused), what it declines, and its results against the torch backend (the reference) on small
// graphs built here. The registry's contract suite (classifier_test.cc) runs it on the fixtures.
#include "fool/model/onednn/onednn_classifier.h"

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <unistd.h>
#include <cmath>
#include <filesystem>

#include "fool/core/error.h"
#include "fool/core/rng.h"
#include "fool/model/factory.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/testing/onnx_test_graph.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using testing::GraphBuilder;
using testing::out_of;

class Onednn : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_onednn_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static ImageBatch noise(std::size_t n, ImageShape shape, std::uint64_t seed = 3) {
    ImageBatch b(n, shape);
    Rng rng(seed);
    for (std::size_t i = 0; i < n * shape.size(); ++i) b.data()[i] = static_cast<float>(rng.uniform());
    return b;
  }
  static std::unique_ptr<Classifier> load(const std::string& model, Backend backend, int threads = 0) {
    ClassifierOptions o;
    o.backend = backend;
    o.threads = threads;
    return load_classifier(model, o);
  }
  // Largest difference between onednn and torch (the reference) on a seeded batch of n.
  static float versus_torch(const std::string& model, ImageShape shape, std::size_t n = 6) {
    const ImageBatch b = noise(n, shape);
    const Matrix a = load(model, Backend::Onednn)->probabilities(b);
    const Matrix r = load(model, Backend::Torch)->probabilities(b);
    EXPECT_EQ(a.rows(), r.rows());
    EXPECT_EQ(a.cols(), r.cols());
    float worst = 0.0f;
    for (std::size_t i = 0; i < a.rows() * a.cols(); ++i) worst = std::max(worst, std::abs(a.data()[i] - r.data()[i]));
    return worst;
  }
  static std::vector<std::string> plan(const std::string& model) { return onednn_plan(OnnxModel::load(model)); }
  static std::string error_of(const std::string& model) {
    try {
      load(model, Backend::Onednn);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  // x [3,12,12] -> conv (+ the nodes `body` adds) -> GlobalAveragePool -> Flatten -> Gemm -> Softmax.
  template <class Body>
  std::string head(GraphBuilder& g, std::string x, const std::string& name, std::int64_t c, Body body) {
    x = body(g, x);
    auto* gap = g.node("GlobalAveragePool", {x});
    auto* flat = g.node("Flatten", {out_of(gap)});
    auto* fc = g.node("Gemm", {out_of(flat), g.weight({5, c}, -2.0f, 2.0f), g.weight({5})});
    GraphBuilder::attr(fc, "transB", std::int64_t{1});
    auto* sm = g.node("Softmax", {out_of(fc)});
    GraphBuilder::attr(sm, "axis", std::int64_t{1});
    return g.write(path(name), out_of(sm), 5);
  }
  static onnx::NodeProto* conv(GraphBuilder& g, const std::string& x, std::int64_t in, std::int64_t out, std::int64_t k,
                               std::int64_t group = 1, std::int64_t stride = 1) {
    auto* n = g.node("Conv", {x, g.weight({out, in / group, k, k}), g.weight({out})});
    GraphBuilder::attr(n, "kernel_shape", std::vector<std::int64_t>{k, k});
    GraphBuilder::attr(n, "pads", std::vector<std::int64_t>{k / 2, k / 2, k / 2, k / 2});
    GraphBuilder::attr(n, "strides", std::vector<std::int64_t>{stride, stride});
    if (group > 1) GraphBuilder::attr(n, "group", group);
    return n;
  }
  static onnx::NodeProto* batch_norm(GraphBuilder& g, const std::string& x, std::int64_t c) {
    return g.node("BatchNormalization",
                  {x, g.weight({c}, 0.5f, 1.5f), g.weight({c}), g.weight({c}), g.weight({c}, 0.5f, 2.0f)});
  }

  fs::path dir_;
};

TEST_F(Onednn, FoldsBatchNormIntoTheConvolutionAndFusesItsActivation) {
  GraphBuilder g(13, {3, 12, 12});
  const std::string m = head(g, "x", "bn.onnx", 8, [](GraphBuilder& g, const std::string& x) {
    auto* c = conv(g, x, 3, 8, 3);
    auto* bn = batch_norm(g, out_of(c), 8);
    return out_of(g.node("Relu", {out_of(bn)}));
  });
  EXPECT_EQ(plan(m), (std::vector<std::string>{"Conv+BatchNormalization+Relu", "GlobalAveragePool", "Flatten", "Gemm",
                                               "Softmax"}));
  EXPECT_LT(versus_torch(m, {3, 12, 12}), 1e-5f);
}

// ResNet's block: the residual Add (and the Relu after it) run as post-ops of the convolution
// computed later, reading the tensor computed earlier.
TEST_F(Onednn, FusesTheResidualAddIntoTheLaterConvolution) {
  GraphBuilder g(13, {3, 12, 12});
  const std::string m = head(g, "x", "res.onnx", 8, [](GraphBuilder& g, const std::string& x) {
    auto* stem = g.node("Relu", {out_of(conv(g, x, 3, 8, 3))});
    auto* a = g.node("Relu", {out_of(batch_norm(g, out_of(conv(g, out_of(stem), 8, 8, 3)), 8))});
    auto* b = batch_norm(g, out_of(conv(g, out_of(a), 8, 8, 3)), 8);
    return out_of(g.node("Relu", {out_of(g.node("Add", {out_of(b), out_of(stem)}))}));
  });
  const auto p = plan(m);
  ASSERT_GE(p.size(), 3u);
  EXPECT_EQ(p[0], "Conv+Relu");
  EXPECT_EQ(p[1], "Conv+BatchNormalization+Relu");
  EXPECT_EQ(p[2], "Conv+BatchNormalization+Add+Relu");
  EXPECT_LT(versus_torch(m, {3, 12, 12}), 1e-5f);
}

// The backend takes each initializer's bytes out of the model as its last reader lowers it (so that
// the weights are held about once at load): weights and a bias shared by two convolutions are
// still read whole by both.
TEST_F(Onednn, SharedWeightsAreReadByEveryReader) {
  GraphBuilder g(13, {3, 12, 12});
  const std::string m = head(g, "x", "shared.onnx", 8, [](GraphBuilder& g, const std::string& x) {
    auto* stem = g.node("Relu", {out_of(conv(g, x, 3, 8, 3))});
    const std::string w = g.weight({8, 8, 3, 3}), b = g.weight({8});
    auto twice = [&](const std::string& in) {
      auto* n = g.node("Conv", {in, w, b});
      GraphBuilder::attr(n, "kernel_shape", std::vector<std::int64_t>{3, 3});
      GraphBuilder::attr(n, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
      return g.node("Relu", {out_of(n)});
    };
    return out_of(twice(out_of(twice(out_of(stem)))));
  });
  EXPECT_LT(versus_torch(m, {3, 12, 12}), 1e-5f);
}

// MobileNet / EfficientNet forms: depthwise convolution, Clip (ReLU6), swish as x * Sigmoid(x), a
// squeeze-and-excitation product broadcast over H x W, hard swish as x * HardSigmoid(x), a strided
// convolution, Concat, max pooling with ceil_mode and a Pad folded into an average pooling.
TEST_F(Onednn, RunsMobileForms) {
  GraphBuilder g(13, {3, 13, 13});
  const std::string m = head(g, "x", "mobile.onnx", 16, [](GraphBuilder& g, const std::string& x) {
    auto* c = conv(g, x, 3, 8, 3);
    auto* swish = g.node("Mul", {out_of(c), out_of(g.node("Sigmoid", {out_of(c)}))});
    auto* dw = conv(g, out_of(swish), 8, 8, 3, 8);
    auto* clip = g.node("Clip", {out_of(dw), g.weight({}, 0.0f, 0.0f), g.weight({}, 6.0f, 6.0f)});
    auto* se = g.node("GlobalAveragePool", {out_of(clip)});
    auto* s = g.node("Sigmoid", {out_of(conv(g, out_of(se), 8, 8, 1))});
    auto* scaled = g.node("Mul", {out_of(clip), out_of(s)});
    auto* hs = conv(g, out_of(scaled), 8, 8, 1);
    auto* hsig = g.node("HardSigmoid", {out_of(hs)});
    GraphBuilder::attr(hsig, "alpha", 1.0f / 6.0f);
    auto* hswish = g.node("Mul", {out_of(hs), out_of(hsig)});
    auto* strided = conv(g, out_of(hswish), 8, 8, 3, 1, 2);
    auto* pool = g.node("MaxPool", {out_of(hswish)});
    GraphBuilder::attr(pool, "kernel_shape", std::vector<std::int64_t>{3, 3});
    GraphBuilder::attr(pool, "strides", std::vector<std::int64_t>{2, 2});
    GraphBuilder::attr(pool, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
    GraphBuilder::attr(pool, "ceil_mode", std::int64_t{1});
    auto* cat = g.node("Concat", {out_of(strided), out_of(pool)});
    GraphBuilder::attr(cat, "axis", std::int64_t{1});
    auto* pad = g.node("Pad", {out_of(cat), g.ints({0, 0, 1, 1, 0, 0, 1, 1})});
    auto* avg = g.node("AveragePool", {out_of(pad)});
    GraphBuilder::attr(avg, "kernel_shape", std::vector<std::int64_t>{3, 3});
    return out_of(avg);
  });
  const auto p = plan(m);
  ASSERT_GE(p.size(), 4u);
  EXPECT_EQ(p[0], "Conv+Swish");
  EXPECT_EQ(p[1], "Conv+Clip");
  EXPECT_NE(std::find(p.begin(), p.end(), "Conv+HardSwish"), p.end());
  EXPECT_NE(std::find(p.begin(), p.end(), "Mul"), p.end());
  EXPECT_NE(std::find(p.begin(), p.end(), "Pad+AveragePool"), p.end());
  EXPECT_LT(versus_torch(m, {3, 13, 13}), 1e-5f);
}

// Fully connected weights of 16 MB and more are packed a slice at a time, the stored copy given
// back as it goes: stored K x In (transB = 1) and In x K (transB = 0), and a 10-class layer whose
// rows do not fill whole slices (packed at once), all as the torch backend computes them.
TEST_F(Onednn, PacksLargeFullyConnectedWeightsInSlices) {
  GraphBuilder g(13, {1, 64, 64});
  auto* flat = g.node("Flatten", {"x"});
  auto* fc1 = g.node("Gemm", {out_of(flat), g.weight({1024, 4096}, -0.02f, 0.02f), g.weight({1024})});
  GraphBuilder::attr(fc1, "transB", std::int64_t{1});
  auto* r1 = g.node("Relu", {out_of(fc1)});
  auto* fc2 = g.node("Gemm", {out_of(r1), g.weight({1024, 4096}, -0.05f, 0.05f), g.weight({4096})});
  auto* r2 = g.node("Relu", {out_of(fc2)});
  auto* fc3 = g.node("Gemm", {out_of(r2), g.weight({10, 4096}, -0.05f, 0.05f), g.weight({10})});
  GraphBuilder::attr(fc3, "transB", std::int64_t{1});
  auto* sm = g.node("Softmax", {out_of(fc3)});
  GraphBuilder::attr(sm, "axis", std::int64_t{1});
  const std::string m = g.write(path("fc.onnx"), out_of(sm), 10);
  EXPECT_EQ(plan(m), (std::vector<std::string>{"Flatten", "Gemm+Relu", "Gemm+Relu", "Gemm", "Softmax"}));
  EXPECT_LT(versus_torch(m, {1, 64, 64}, 12), 1e-5f);
}

// Preprocessing baked into the graph: a mean image subtracted from the input, a per-channel std
// divided out (constants broadcast over the tensor).
TEST_F(Onednn, RunsConstantOperandsBroadcastOverTheInput) {
  GraphBuilder g(13, {3, 12, 12});
  const std::string m = head(g, "x", "mean.onnx", 8, [](GraphBuilder& g, const std::string& x) {
    auto* sub = g.node("Sub", {x, g.weight({1, 3, 12, 12}, 0.3f, 0.6f)});
    auto* div = g.node("Div", {out_of(sub), g.weight({3, 1, 1}, 0.2f, 0.3f)});
    auto* c = conv(g, out_of(div), 3, 8, 3);
    return out_of(g.node("Mul", {g.weight({8, 1, 1}, 0.5f, 2.0f), out_of(c)}));
  });
  EXPECT_EQ(plan(m),
            (std::vector<std::string>{"Sub", "Div", "Conv", "Mul", "GlobalAveragePool", "Flatten", "Gemm", "Softmax"}));
  EXPECT_LT(versus_torch(m, {3, 12, 12}), 1e-5f);
}

// MnasNet's head: ReduceMean over H and W without keepdims, a global average pooling to N x C.
TEST_F(Onednn, RunsReduceMeanOverTheImage) {
  GraphBuilder g(13, {3, 12, 12});
  auto* c = g.node("Relu", {out_of(conv(g, "x", 3, 8, 3))});
  auto* mean = g.node("ReduceMean", {out_of(c)});
  GraphBuilder::attr(mean, "axes", std::vector<std::int64_t>{2, 3});
  GraphBuilder::attr(mean, "keepdims", std::int64_t{0});
  auto* fc = g.node("Gemm", {out_of(mean), g.weight({5, 8}, -2.0f, 2.0f), g.weight({5})});
  GraphBuilder::attr(fc, "transB", std::int64_t{1});
  const std::string m = g.write(path("reduce.onnx"), out_of(fc), 5);
  EXPECT_EQ(plan(m), (std::vector<std::string>{"Conv+Relu", "ReduceMean", "ReduceMean", "Gemm"}));
  EXPECT_LT(versus_torch(m, {3, 12, 12}), 1e-5f);
}

// Operators and attributes it does not cover: declined at load with one line naming the node,
// and auto takes another backend.
TEST_F(Onednn, DeclinesWhatItDoesNotCover) {
  GraphBuilder g(13, {3, 12, 12});
  const std::string lrn = head(g, "x", "lrn.onnx", 8, [](GraphBuilder& g, const std::string& x) {
    auto* n = g.node("LRN", {out_of(conv(g, x, 3, 8, 3))});
    GraphBuilder::attr(n, "size", std::int64_t{3});
    return out_of(n);
  });
  const std::string e = error_of(lrn);
  EXPECT_NE(e.find(lrn + ": the onednn backend does not run node 'LRN"), std::string::npos) << e;
  EXPECT_NE(e.find("operator LRN is not supported"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);

  GraphBuilder g2(13, {3, 12, 12});
  const std::string same = head(g2, "x", "same.onnx", 8, [](GraphBuilder& g, const std::string& x) {
    auto* n = g.node("Conv", {x, g.weight({8, 3, 3, 3})});
    GraphBuilder::attr(n, "auto_pad", "SAME_UPPER");
    return out_of(n);
  });
  EXPECT_NE(error_of(same).find("auto_pad SAME_UPPER is not supported"), std::string::npos) << error_of(same);

  ClassifierOptions o;
  const BackendComparison c = compare_backends(lrn, o);
  ASSERT_TRUE(c.chosen) << c.error;
  EXPECT_NE(c.choice.backend, Backend::Onednn);
  for (const auto& p : c.probes)
    if (p.backend == Backend::Onednn) {
      EXPECT_NE(p.error.find("LRN"), std::string::npos) << p.error;
    }
}

// Results do not depend on the thread count (ranges of the batch depend on its size alone).
TEST_F(Onednn, ResultsDoNotDependOnTheThreadCount) {
  const std::string m = testing::fixtures_dir() + "/squeezenet1_1_random.onnx";
  const ImageBatch b = noise(10, {3, 224, 224});
  const Matrix one = load(m, Backend::Onednn, 1)->probabilities(b);
  const Matrix two = load(m, Backend::Onednn, 2)->probabilities(b);
  ASSERT_EQ(one.rows(), 10u);
  for (std::size_t i = 0; i < one.rows() * one.cols(); ++i) ASSERT_EQ(one.data()[i], two.data()[i]) << i;
}

// The backend runs oneDNN single-threaded in each worker, the calling thread among them, and leaves
// the calling thread's OpenMP setting (which the torch backend in the same thread relies on) as it
// found it.
TEST_F(Onednn, KeepsTheCallersOpenMpThreadCount) {
  const auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  const auto get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  if (!set || !get) GTEST_SKIP() << "oneDNN is not built on OpenMP here";
  const int before = get();
  set(3);
  auto clf = load(testing::fixtures_dir() + "/mnist_bn_cnn.onnx", Backend::Onednn, 1);
  EXPECT_EQ(get(), 3);  // planning at load
  clf->probabilities(noise(2, {1, 28, 28}));
  EXPECT_EQ(get(), 3);  // a call with one range, on this thread
  clf->probabilities(noise(40, {1, 28, 28}));
  EXPECT_EQ(get(), 3);  // a new plan and several ranges
  set(before);
}

// Plans are kept per batch size (up to 8, then dropped): many sizes in turn still score every image
// as it scores alone.
TEST_F(Onednn, ManyBatchSizesInTurnScoreAsOneByOne) {
  auto clf = load(testing::fixtures_dir() + "/mnist_bn_cnn.onnx", Backend::Onednn, 2);
  const ImageBatch all = noise(23, {1, 28, 28});
  Matrix alone(0, 10);
  for (std::size_t i = 0; i < all.size(); ++i) alone.append_rows(clf->probabilities(all.slice(i, i + 1)));
  for (std::size_t n : {2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 17, 23}) {
    const Matrix p = clf->probabilities(all.slice(0, n));
    ASSERT_EQ(p.rows(), n);
    for (std::size_t i = 0; i < n * 10; ++i) EXPECT_NEAR(p.data()[i], alone.data()[i], 1e-5f) << "batch " << n;
  }
}

TEST_F(Onednn, PlansTheFixtures) {
  EXPECT_EQ(plan(testing::fixtures_dir() + "/mnist_bn_cnn.onnx"),
            (std::vector<std::string>{"Conv+Relu", "MaxPool", "Conv+Relu", "Pad+AveragePool", "Flatten", "Gemm+Tanh",
                                      "Gemm", "Softmax"}));
  const auto sq = plan(testing::fixtures_dir() + "/squeezenet1_1_random.onnx");
  EXPECT_EQ(sq.front(), "Conv+Relu");
  EXPECT_NE(std::find(sq.begin(), sq.end(), "Concat"), sq.end());
}

}  // namespace
}  // namespace fool
