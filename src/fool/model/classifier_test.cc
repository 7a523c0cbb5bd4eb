// Contract tests every Classifier backend must pass, and the model-description rules.
#include "fool/model/classifier.h"
#include "fool/model/factory.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>

#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/testing/onnx_test_graph.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;
using fool::testing::fixtures_dir;
using fool::testing::read_f32;

struct Fixture {
  std::string name;
  ImageShape shape;
  std::size_t batch;
  std::size_t classes;
};

const Fixture kFixtures[] = {{"mnist_bn_cnn", {1, 28, 28}, 4, 10}, {"squeezenet1_1_random", {3, 224, 224}, 2, 1000}};

class BackendContract : public ::testing::TestWithParam<Backend> {
 protected:
  std::unique_ptr<Classifier> load(const std::string& path) {
    ClassifierOptions o;
    o.backend = GetParam();
    return load_classifier(path, o);
  }
};

TEST_P(BackendContract, ReproducesPyTorchFixtures) {
  for (const Fixture& f : kFixtures) {
    SCOPED_TRACE(f.name);
    auto clf = load(fixtures_dir() + "/" + f.name + ".onnx");
    EXPECT_EQ(clf->spec().input, f.shape);
    EXPECT_EQ(clf->spec().num_classes, static_cast<int>(f.classes));
    const auto input = read_f32(fixtures_dir() + "/" + f.name + ".input.f32");
    const auto want = read_f32(fixtures_dir() + "/" + f.name + ".probs.f32");
    ASSERT_EQ(input.size(), f.batch * f.shape.size());
    ASSERT_EQ(want.size(), f.batch * f.classes);
    // The fixtures' inputs are raw model inputs; with scale 1 and no mean they are our images too.
    ImageBatch batch(f.batch, f.shape);
    std::copy(input.begin(), input.end(), batch.data());
    const Matrix p = clf->probabilities(batch);
    ASSERT_EQ(p.rows(), f.batch);
    ASSERT_EQ(p.cols(), f.classes);
    float worst = 0.0f;
    for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(p.data()[i] - want[i]));
    EXPECT_LT(worst, 1e-4f);
  }
}

TEST_P(BackendContract, RowsAreIndependentOfBatchComposition) {
  auto clf = load(fixtures_dir() + "/mnist_bn_cnn.onnx");
  const auto input = read_f32(fixtures_dir() + "/mnist_bn_cnn.input.f32");
  ImageBatch all(4, {1, 28, 28});
  std::copy(input.begin(), input.end(), all.data());
  const Matrix whole = clf->probabilities(all);
  const Matrix last = clf->probabilities(all.slice(3, 4));
  for (std::size_t c = 0; c < 10; ++c) EXPECT_NEAR(whole(3, c), last(0, c), 1e-5f);
  EXPECT_EQ(clf->probabilities(ImageBatch(0, {1, 28, 28})).rows(), 0u);
}

TEST_P(BackendContract, RejectsImagesOfTheWrongShape) {
  auto clf = load(fixtures_dir() + "/mnist_bn_cnn.onnx");
  try {
    clf->probabilities(ImageBatch(1, {3, 28, 28}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1x28x28"), std::string::npos);
  }
}

TEST_P(BackendContract, ProbabilitiesSumToOneAndLogitsGetSoftmax) {
  ClassifierOptions o;
  o.backend = GetParam();
  o.overrides.output_is_probabilities = false;  // treat the softmax output as logits: softmax again
  auto twice = load_classifier(fixtures_dir() + "/mnist_bn_cnn.onnx", o);
  auto once = load(fixtures_dir() + "/mnist_bn_cnn.onnx");
  ImageBatch b(2, {1, 28, 28});
  for (std::size_t i = 0; i < 2 * 784; ++i) b.data()[i] = static_cast<float>(i % 7) / 7.0f;
  const Matrix p1 = once->probabilities(b), p2 = twice->probabilities(b);
  for (std::size_t r = 0; r < 2; ++r) {
    double s1 = 0, s2 = 0, manual = 0;
    for (std::size_t c = 0; c < 10; ++c) manual += std::exp(p1(r, c));
    for (std::size_t c = 0; c < 10; ++c) {
      s1 += p1(r, c);
      s2 += p2(r, c);
      EXPECT_NEAR(p2(r, c), std::exp(p1(r, c)) / manual, 1e-5);
    }
    EXPECT_NEAR(s1, 1.0, 1e-5);
    EXPECT_NEAR(s2, 1.0, 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendContract, ::testing::Values(Backend::OpenCv, Backend::Torch),
                         [](const auto& info) { return backend_name(info.param); });

TEST(TorchBackend, InputGradientsMatchFiniteDifferences) {
  ClassifierOptions o;
  o.backend = Backend::Torch;
  auto clf = load_differentiable_classifier(fixtures_dir() + "/mnist_bn_cnn.onnx", o);
  const auto input = read_f32(fixtures_dir() + "/mnist_bn_cnn.input.f32");
  ImageBatch b(1, {1, 28, 28});
  std::copy(input.begin(), input.begin() + 784, b.data());
  const int target = 3;
  ImageBatch grad;
  const Matrix p = clf->probabilities_and_gradients(b, {target}, &grad);
  ASSERT_EQ(grad.size(), 1u);
  // Compare in double-sided differences at the pixels with the largest gradients.
  std::vector<int> order(784);
  for (int i = 0; i < 784; ++i) order[static_cast<std::size_t>(i)] = i;
  std::partial_sort(order.begin(), order.begin() + 8, order.end(),
                    [&](int a, int c) { return std::abs(grad.data()[a]) > std::abs(grad.data()[c]); });
  const float h = 1e-2f;
  for (int k = 0; k < 8; ++k) {
    const int px = order[static_cast<std::size_t>(k)];
    ImageBatch up = b, down = b;
    up.data()[px] += h;
    down.data()[px] -= h;
    const double fd = (clf->probabilities(up)(0, target) - clf->probabilities(down)(0, target)) / (2.0 * h);
    EXPECT_NEAR(grad.data()[px], fd, 1e-3 + 0.05 * std::abs(fd)) << "pixel " << px;
  }
  EXPECT_GT(p(0, target), 0.0f);
}

TEST(OnnxModel, SimplifiedGraphDropsPassThroughNodes) {
  const OnnxModel m = OnnxModel::load(fixtures_dir() + "/squeezenet1_1_random.onnx");
  onnx::ModelProto simplified;
  ASSERT_TRUE(simplified.ParseFromString(m.simplified_for_opencv()));
  int identities = 0;
  for (const auto& n : m.proto().graph().node()) identities += n.op_type() == "Identity";
  EXPECT_GT(identities, 0);
  for (const auto& n : simplified.graph().node()) EXPECT_NE(n.op_type(), "Identity");
  EXPECT_EQ(simplified.graph().node_size(), m.proto().graph().node_size() - identities);
}

class BadModels : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_bad_models_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string expect_error(const std::string& path, Backend backend = Backend::OpenCv) {
    ClassifierOptions o;
    o.backend = backend;
    try {
      load_classifier(path, o);
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      return msg;
    }
    ADD_FAILURE() << "no error for " << path;
    return "";
  }
  // A model whose input is a flat vector: valid ONNX, but not an image classifier.
  std::string write_vector_model() {
    testing::GraphBuilder g(13, {784});
    return g.write(dir_ / "vector.onnx", testing::out_of(g.node("Relu", {"x"})), 784);
  }
  fs::path dir_;
};

TEST_F(BadModels, EachGetsOneLineNamingTheFile) {
  EXPECT_NE(expect_error((dir_ / "missing.onnx").string()).find("cannot open"), std::string::npos);
  write_file_atomic((dir_ / "text.onnx").string(), std::string("this is not a model"));
  EXPECT_NE(expect_error((dir_ / "text.onnx").string()).find("not an ONNX model"), std::string::npos);
  auto bytes = read_file(fixtures_dir() + "/mnist_bn_cnn.onnx");
  bytes.resize(bytes.size() / 3);
  write_file_atomic((dir_ / "cut.onnx").string(), bytes.data(), bytes.size());
  expect_error((dir_ / "cut.onnx").string());
  write_file_atomic((dir_ / "empty.onnx").string(), std::string());
  expect_error((dir_ / "empty.onnx").string());
  EXPECT_NE(expect_error(write_vector_model()).find("not an image"), std::string::npos);
  EXPECT_NE(expect_error(dir_.string()).find("directory"), std::string::npos);
}

TEST_F(BadModels, AnOperatorTheTorchBackendLacksIsNamedWithItsNode) {
  onnx::ModelProto m = OnnxModel::load(fixtures_dir() + "/mnist_bn_cnn.onnx").proto();
  auto* n = m.mutable_graph()->mutable_node(1);
  n->set_op_type("NonMaxSuppression");
  n->set_name("the_nms");
  std::string bytes;
  m.SerializeToString(&bytes);
  const std::string path = (dir_ / "nms.onnx").string();
  write_file_atomic(path, bytes);
  const std::string msg = expect_error(path, Backend::Torch);
  EXPECT_NE(msg.find("NonMaxSuppression"), std::string::npos) << msg;
  EXPECT_NE(msg.find("the_nms"), std::string::npos) << msg;
  EXPECT_NE(msg.find("opset 13"), std::string::npos) << msg;
  EXPECT_NE(msg.find("docs/operators.md"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HardSwish"), std::string::npos) << msg;  // the supported list
}

TEST(Preprocessing, ScaleMeanStdAndChannelOrder) {
  Preprocessing p;
  p.channel_order = ChannelOrder::Bgr;
  p.scale = 255.0f;
  p.mean = {10.0f, 20.0f, 30.0f};
  p.std = {2.0f, 4.0f, 5.0f};
  const ImageShape s{3, 1, 1};
  const float in[3] = {0.0f, 0.5f, 1.0f};  // R, G, B
  float out[3];
  preprocess_image(p, s, in, out);
  EXPECT_FLOAT_EQ(out[0], (255.0f - 10.0f) / 2.0f);  // B first
  EXPECT_FLOAT_EQ(out[1], (127.5f - 20.0f) / 4.0f);
  EXPECT_FLOAT_EQ(out[2], (0.0f - 30.0f) / 5.0f);
}

TEST(ModelSpec, OverridesAreValidated) {
  const OnnxModel m = OnnxModel::load(fixtures_dir() + "/mnist_bn_cnn.onnx");
  SpecOverrides o;
  o.mean = std::vector<float>{0.1f, 0.2f};
  EXPECT_THROW(m.spec(o), Error);
  o = {};
  o.labels = std::vector<std::string>{"a", "b"};
  EXPECT_THROW(m.spec(o), Error);
  EXPECT_THROW(parse_channel_order("gbr"), Error);
  EXPECT_EQ(parse_channel_order(channel_order_name(ChannelOrder::Bgr)), ChannelOrder::Bgr);
  EXPECT_TRUE(m.spec().preprocessing.output_is_probabilities);
}

}  // namespace
}  // namespace fool
