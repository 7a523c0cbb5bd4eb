// Contract tests every registered Classifier backend must pass, auto's choice among them, and the
// model-description rules.
#include "fool/model/classifier.h"
#include "fool/model/factory.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "fool/core/error.h"
#include "fool/core/rng.h"
#include "fool/io/files.h"
#include "fool/model/onnx/onnx_model.h"
#include "fool/model/registry.h"
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

// The contract every registered backend must pass (fool/model/registry.h): parameterised by the
// registry, so a new backend is tested by registering it.
class BackendContract : public ::testing::TestWithParam<std::string> {
 protected:
  Backend backend() const { return parse_backend(GetParam()); }
  const BackendRegistration& registration() const { return registered_backend(backend()); }
  std::unique_ptr<Classifier> load(const std::string& path) {
    ClassifierOptions o;
    o.backend = backend();
    return load_classifier(path, o);
  }
  static ImageBatch fixture_input(const Fixture& f) {
    const auto input = read_f32(fixtures_dir() + "/" + f.name + ".input.f32");
    EXPECT_EQ(input.size(), f.batch * f.shape.size());
    ImageBatch batch(f.batch, f.shape);
    std::copy(input.begin(), input.begin() + static_cast<long>(std::min(input.size(), batch.size() * f.shape.size())),
              batch.data());
    return batch;
  }
  // Seven images: the fixture's batch, then noise.
  static ImageBatch seven_images(const Fixture& f) {
    const ImageBatch given = fixture_input(f);
    ImageBatch b(7, f.shape);
    std::copy(given.data(), given.data() + given.size() * f.shape.size(), b.data());
    Rng rng(5);
    for (std::size_t i = given.size() * f.shape.size(); i < 7 * f.shape.size(); ++i)
      b.data()[i] = static_cast<float>(rng.uniform());
    return b;
  }
  static float max_difference(const Matrix& a, const Matrix& b) {
    EXPECT_EQ(a.rows(), b.rows());
    EXPECT_EQ(a.cols(), b.cols());
    float worst = 0.0f;
    for (std::size_t i = 0; i < std::min(a.rows() * a.cols(), b.rows() * b.cols()); ++i)
      worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
    return worst;
  }
};

TEST_P(BackendContract, ReproducesPyTorchFixtures) {
  for (const Fixture& f : kFixtures) {
    SCOPED_TRACE(f.name);
    auto clf = load(fixtures_dir() + "/" + f.name + ".onnx");
    EXPECT_EQ(clf->backend(), backend());
    EXPECT_EQ(clf->spec().input, f.shape);
    EXPECT_EQ(clf->spec().num_classes, static_cast<int>(f.classes));
    const auto want = read_f32(fixtures_dir() + "/" + f.name + ".probs.f32");
    ASSERT_EQ(want.size(), f.batch * f.classes);
    // The fixtures' inputs are raw model inputs; with scale 1 and no mean they are our images too.
    const Matrix p = clf->probabilities(fixture_input(f));
    ASSERT_EQ(p.rows(), f.batch);
    ASSERT_EQ(p.cols(), f.classes);
    float worst = 0.0f;
    for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(p.data()[i] - want[i]));
    EXPECT_LT(worst, 1e-4f);
    for (std::size_t r = 0; r < p.rows(); ++r) {
      double sum = 0;
      for (std::size_t c = 0; c < p.cols(); ++c) sum += p(r, c);
      EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << r;
    }
  }
}

TEST_P(BackendContract, ABatchOfSevenScoresAsTheImagesOneByOne) {
  for (const Fixture& f : kFixtures) {
    SCOPED_TRACE(f.name);
    auto clf = load(fixtures_dir() + "/" + f.name + ".onnx");
    const ImageBatch seven = seven_images(f);
    const Matrix whole = clf->probabilities(seven);
    ASSERT_EQ(whole.rows(), 7u);
    for (std::size_t i = 0; i < 7; ++i) {
      const Matrix one = clf->probabilities(seven.slice(i, i + 1));
      ASSERT_EQ(one.rows(), 1u);
      for (std::size_t c = 0; c < f.classes; ++c) EXPECT_NEAR(whole(i, c), one(0, c), 1e-5f) << "image " << i;
    }
  }
  auto clf = load(fixtures_dir() + "/mnist_bn_cnn.onnx");
  EXPECT_EQ(clf->probabilities(ImageBatch(0, {1, 28, 28})).rows(), 0u);
}

// The fixture with its batch axis fixed to 3 (as torch.onnx.export writes a model without
// dynamic_axes), written to a temporary file; `mix` appends a node that averages each row with the
// batch's mean row (a graph whose scores depend on the other images of its batch).
std::string fixed_batch_model(const std::string& dir, bool mix) {
  onnx::ModelProto m = OnnxModel::load(fixtures_dir() + "/mnist_bn_cnn.onnx").proto();
  auto* g = m.mutable_graph();
  for (auto* value : {g->mutable_input(0), g->mutable_output(0)})
    value->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_value(3);
  if (mix) {
    const std::string p = g->output(0).name();
    auto node = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
      auto* n = g->add_node();
      n->set_op_type(op);
      n->set_name("mix_" + out);
      for (const auto& i : in) n->add_input(i);
      n->add_output(out);
      return n;
    };
    auto* mean = node("ReduceMean", {p}, "mix_mean");
    auto* axes = mean->add_attribute();
    axes->set_name("axes");
    axes->set_type(onnx::AttributeProto::INTS);
    axes->add_ints(0);
    node("Add", {p, "mix_mean"}, "mix_sum");
    auto* half = g->add_initializer();
    half->set_name("mix_half");
    half->set_data_type(onnx::TensorProto::FLOAT);
    half->add_float_data(0.5f);
    node("Mul", {"mix_sum", "mix_half"}, "mix_out");
    g->mutable_output(0)->set_name("mix_out");
  }
  std::string bytes;
  m.SerializeToString(&bytes);
  const std::string path = dir + (mix ? "/mixing3.onnx" : "/fixed3.onnx");
  write_file_atomic(path, bytes);
  return path;
}

// A fixed batch of 3 whose graph scores each image on its own takes any batch (checked on a probe
// batch at load): seven images score as with the free batch axis, in calls of any size.
TEST_P(BackendContract, AFixedBatchModelScoresAnyNumberOfImages) {
  const fs::path dir = fs::temp_directory_path() / ("fool_fixed_batch_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto fixed = load(fixed_batch_model(dir.string(), false));
  auto free = load(fixtures_dir() + "/mnist_bn_cnn.onnx");
  fs::remove_all(dir);
  EXPECT_EQ(fixed->spec().fixed_batch, 0);  // relaxed: it takes any batch
  const ImageBatch seven = seven_images(kFixtures[0]);
  EXPECT_LT(max_difference(fixed->probabilities(seven), free->probabilities(seven)), 1e-5f);
  EXPECT_LT(max_difference(fixed->probabilities(seven.slice(0, 2)), free->probabilities(seven.slice(0, 2))), 1e-5f);
}

// A fixed batch of 3 whose graph mixes the images of a batch keeps it: images go in calls of three
// (the last one padded), so the first three score as those three alone.
TEST_P(BackendContract, AFixedBatchThatMixesImagesIsFedItsOwnBatch) {
  const fs::path dir = fs::temp_directory_path() / ("fool_mixing_batch_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = fixed_batch_model(dir.string(), true);
  std::unique_ptr<Classifier> fixed;
  try {
    fixed = load(path);
  } catch (const Error& e) {
    fs::remove_all(dir);
    GTEST_SKIP() << backend_name(backend()) << " cannot load the mixing graph: " << e.what();
  }
  fs::remove_all(dir);
  EXPECT_EQ(fixed->spec().fixed_batch, 3);
  const ImageBatch seven = seven_images(kFixtures[0]);
  const Matrix all = fixed->probabilities(seven);
  auto rows = [](const Matrix& m, std::size_t b, std::size_t e) {
    Matrix r(e - b, m.cols());
    std::copy(m.data() + b * m.cols(), m.data() + e * m.cols(), r.data());
    return r;
  };
  EXPECT_EQ(max_difference(rows(all, 0, 3), fixed->probabilities(seven.slice(0, 3))), 0.0f);
  EXPECT_EQ(max_difference(rows(all, 3, 6), fixed->probabilities(seven.slice(3, 6))), 0.0f);
  // Alone (padded with copies of itself) the first image scores otherwise: the graph does mix.
  EXPECT_GT(max_difference(rows(all, 0, 1), fixed->probabilities(seven.slice(0, 1))), 1e-6f);
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
  o.backend = backend();
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

// A backend that declares gradients gives the gradient of a class probability (checked against
// finite differences at the pixels with the largest gradients); one that does not is refused with
// a line naming it.
TEST_P(BackendContract, GradientsAsDeclared) {
  ClassifierOptions o;
  o.backend = backend();
  const std::string model = fixtures_dir() + "/mnist_bn_cnn.onnx";
  if (!registration().gives_gradients()) {
    try {
      load_differentiable_classifier(model, o);
      FAIL() << "no error for a backend without gradients";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(GetParam()), std::string::npos) << e.what();
    }
    return;
  }
  auto clf = load_differentiable_classifier(model, o);
  EXPECT_EQ(clf->backend(), backend());
  const auto input = read_f32(fixtures_dir() + "/mnist_bn_cnn.input.f32");
  ImageBatch b(1, {1, 28, 28});
  std::copy(input.begin(), input.begin() + 784, b.data());
  const int target = 3;
  ImageBatch grad;
  const Matrix p = clf->probabilities_and_gradients(b, {target}, &grad);
  ASSERT_EQ(grad.size(), 1u);
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

std::vector<std::string> registered_names() {
  std::vector<std::string> names;
  for (const auto& r : backend_registry()) names.push_back(r.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Registered, BackendContract, ::testing::ValuesIn(registered_names()),
                         [](const auto& info) { return info.param; });

TEST(BackendRegistry, NamesTheCliChoicesAndHasAReference) {
  std::vector<std::string> want = {"auto"};
  int references = 0;
  for (const auto& r : backend_registry()) {
    want.push_back(r.name);
    references += r.reference;
    EXPECT_FALSE(r.description.empty()) << r.name;
    EXPECT_TRUE(static_cast<bool>(r.load)) << r.name;
    EXPECT_EQ(parse_backend(r.name), r.backend);
    EXPECT_EQ(&registered_backend(r.backend), &r);
  }
  EXPECT_EQ(names_of(backend_names()), want);
  EXPECT_EQ(references, 1);
  // The names files record (checkpoints, summaries, MPI broadcasts) stay what they were.
  EXPECT_EQ(backend_name(Backend::OpenCv), "opencv");
  EXPECT_EQ(backend_name(Backend::Torch), "torch");
  EXPECT_THROW(parse_backend("tpu"), Error);
}

// Auto over the registered backends: on the squeezenet fixture both run and agree; without timing
// the most preferred is taken, and the reasons are the ones earlier runs recorded in summary.json.
TEST(CompareBackends, AgreeingBackendsGiveThePreferredOneWithoutTiming) {
  ClassifierOptions o;
  o.auto_compares_speed = false;
  const BackendComparison c = compare_backends(fixtures_dir() + "/squeezenet1_1_random.onnx", o);
  ASSERT_TRUE(c.chosen) << c.error;
  EXPECT_EQ(c.probe_images, 4u);
  ASSERT_EQ(c.probes.size(), backend_registry().size());
  for (const BackendProbe& p : c.probes) {
    EXPECT_TRUE(p.runs()) << p.name << ": " << p.error;
    EXPECT_EQ(p.classes, 1000);
    EXPECT_GE(p.seconds, 0.0);
    EXPECT_LE(p.max_difference, kBackendTolerance);
  }
  EXPECT_TRUE(c.agree);
  EXPECT_EQ(c.choice.backend, backend_registry().front().backend);
  // "both" with two registered backends (as earlier runs recorded), else their names (onednn is
  // registered where fool was built with oneDNN).
  std::string who, others;
  for (std::size_t i = 0; i < backend_registry().size(); ++i) {
    const std::string& n = backend_registry()[i].name;
    const bool last = i + 1 == backend_registry().size();
    who += (i == 0 ? "" : last ? " and " : ", ") + n;
    if (i > 0) others += (i == 1 ? "" : last ? " and " : ", ") + n;
  }
  if (backend_registry().size() == 2) who = "both";
  EXPECT_EQ(c.choice.reason, "opencv: " + who + " agree on the probe batch (chosen without timing them)");
  // The chosen backend's largest difference from the others; over every pair (with three backends
  // the largest may be between two that were not chosen) it can only be larger.
  if (backend_registry().size() == 2)
    EXPECT_EQ(c.choice.max_difference, c.max_difference);
  else
    EXPECT_LE(c.choice.max_difference, c.max_difference);
  EXPECT_EQ(c.choice.detail.rfind("probe batch of 4: opencv ", 0), 0u) << c.choice.detail;
  BackendChoice loaded;
  auto clf = load_classifier(fixtures_dir() + "/squeezenet1_1_random.onnx", o, &loaded);
  EXPECT_EQ(clf->backend(), c.choice.backend);
  EXPECT_EQ(loaded.reason, c.choice.reason);
  // Timed, the choice is one of the two documented outcomes.
  o.auto_compares_speed = true;
  const std::string timed = compare_backends(fixtures_dir() + "/squeezenet1_1_random.onnx", o).choice.reason;
  bool documented =
      timed == "opencv: " + who + " agree on the probe batch and " +
                   (backend_registry().size() == 2 ? others + " is not faster" : "none of " + others + " is faster");
  for (std::size_t i = 1; i < backend_registry().size(); ++i) {
    const std::string& n = backend_registry()[i].name;
    documented = documented || timed == n + ": " + who + " agree on the probe batch and " + n + " is faster";
  }
  EXPECT_TRUE(documented) << timed;
}

// Timed, auto times a small network (the MNIST fixture) on 64 images, so that a call's fixed cost
// does not decide, and a large one (SqueezeNet at 224 x 224) on the probe batch itself; without
// timing only the probe batch runs.
TEST(CompareBackends, TimesSmallNetworksOnALargerBatch) {
  ClassifierOptions o;
  o.auto_compares_speed = true;
  const BackendComparison small = compare_backends(fixtures_dir() + "/mnist_bn_cnn.onnx", o);
  ASSERT_TRUE(small.chosen) << small.error;
  EXPECT_EQ(small.probe_images, 4u);
  EXPECT_EQ(small.choice.detail.rfind("probe batch of 4, timed on 64 images: opencv ", 0), 0u) << small.choice.detail;
  const BackendComparison large = compare_backends(fixtures_dir() + "/squeezenet1_1_random.onnx", o);
  EXPECT_EQ(large.choice.detail.rfind("probe batch of 4: opencv ", 0), 0u) << large.choice.detail;
  o.auto_compares_speed = false;
  const BackendComparison untimed = compare_backends(fixtures_dir() + "/mnist_bn_cnn.onnx", o);
  EXPECT_EQ(untimed.choice.detail.rfind("probe batch of 4: opencv ", 0), 0u) << untimed.choice.detail;
}

// Auto times every backend kTimingRounds times, interleaved, and keeps each one's best call; the
// detail line says so. Without timing one call is timed.
TEST(CompareBackends, TimesEveryBackendInRoundsAndKeepsItsBest) {
  ClassifierOptions o;
  o.auto_compares_speed = true;
  const BackendComparison c = compare_backends(fixtures_dir() + "/mnist_bn_cnn.onnx", o);
  ASSERT_TRUE(c.chosen) << c.error;
  for (const BackendProbe& p : c.probes) {
    ASSERT_TRUE(p.runs()) << p.name << ": " << p.error;
    ASSERT_EQ(p.rounds.size(), static_cast<std::size_t>(kTimingRounds)) << p.name;
    EXPECT_EQ(p.seconds, *std::min_element(p.rounds.begin(), p.rounds.end())) << p.name;
  }
  const std::string tail = " (CPU time, best of 3 interleaved calls each)";
  ASSERT_GE(c.choice.detail.size(), tail.size());
  EXPECT_EQ(c.choice.detail.substr(c.choice.detail.size() - tail.size()), tail) << c.choice.detail;
  o.auto_compares_speed = false;
  const BackendComparison untimed = compare_backends(fixtures_dir() + "/mnist_bn_cnn.onnx", o);
  for (const BackendProbe& p : untimed.probes) EXPECT_EQ(p.rounds.size(), 1u) << p.name;
  EXPECT_EQ(untimed.choice.detail.find("best of"), std::string::npos) << untimed.choice.detail;
}

// The speed rule: more than kSpeedMargin times faster, best call against best call; a backend that
// did not run is never faster nor beaten.
TEST(CompareBackends, ClearlyFasterNeedsMoreThanTheMargin) {
  auto timed = [](double s) {
    BackendProbe p;
    p.seconds = s;
    return p;
  };
  EXPECT_TRUE(clearly_faster(timed(0.5), timed(0.64)));
  EXPECT_FALSE(clearly_faster(timed(0.5), timed(0.625)));  // exactly the margin: not a clear win
  EXPECT_FALSE(clearly_faster(timed(0.5), timed(0.6)));
  EXPECT_FALSE(clearly_faster(timed(0.64), timed(0.5)));
  EXPECT_FALSE(clearly_faster(timed(-1.0), timed(0.5)));
  EXPECT_FALSE(clearly_faster(timed(0.5), timed(-1.0)));
}

// An operator no backend knows (every Tanh renamed Tanx): nothing is chosen, and the one-line error
// names the file and every backend's reason.
TEST(CompareBackends, WhenNoBackendRunsEveryReasonIsNamed) {
  const fs::path dir = fs::temp_directory_path() / ("fool_compare_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  onnx::ModelProto m = OnnxModel::load(fixtures_dir() + "/mnist_bn_cnn.onnx").proto();
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type() == "Tanh") n.set_op_type("Tanx");
  std::string bytes;
  m.SerializeToString(&bytes);
  const std::string path = (dir / "tanx.onnx").string();
  write_file_atomic(path, bytes);
  const BackendComparison c = compare_backends(path, {});
  EXPECT_THROW(load_classifier(path, {}), Error);
  fs::remove_all(dir);
  EXPECT_FALSE(c.chosen);
  EXPECT_EQ(c.max_difference, -1.0f);
  for (const BackendProbe& p : c.probes) {
    EXPECT_FALSE(p.runs()) << p.name;
    EXPECT_EQ(p.seconds, -1.0);
    EXPECT_NE(c.error.find(p.name + ": "), std::string::npos) << c.error;
  }
  EXPECT_EQ(c.error.rfind(path + ": no backend runs this model (", 0), 0u) << c.error;
  EXPECT_EQ(c.error.find('\n'), std::string::npos);
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
