#include "fool/search/ascent.h"
#include "fool/model/factory.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/testing/onnx_test_graph.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

TEST(GaussianBlur, KeepsConstantsSpreadsImpulsesSymmetrically) {
  const ImageShape s{1, 9, 9};
  std::vector<float> flat(81, 0.7f);
  gaussian_blur(flat.data(), s, 0.8);
  for (float v : flat) EXPECT_NEAR(v, 0.7f, 1e-6);
  std::vector<float> dot(81, 0.0f);
  dot[40] = 1.0f;
  gaussian_blur(dot.data(), s, 0.8);
  EXPECT_NEAR(std::accumulate(dot.begin(), dot.end(), 0.0f), 1.0f, 1e-5);
  EXPECT_LT(dot[40], 0.5f);
  EXPECT_FLOAT_EQ(dot[39], dot[41]);
  EXPECT_FLOAT_EQ(dot[31], dot[49]);
  EXPECT_GT(dot[39], dot[38]);
}

TEST(Ascent, RaisesTheTargetProbabilityAndStopsAtTheTarget) {
  ClassifierOptions o;
  o.backend = Backend("torch");
  auto clf = load_differentiable_classifier(testing::fixtures_dir() + "/mnist_bn_cnn.onnx", o);
  AscentConfig c;
  c.classes = {0, 3, 7};
  c.steps = 40;
  c.target = 0.0;
  // The progress events carry each step's log record.
  struct Medians : RunObserver {
    std::vector<double> values;
    void on_progress(const ProgressEvent& e) override {
      if (e.phase.empty()) values.push_back(e.record["median"].get<double>());
    }
  } observer;
  const AscentOutcome out = run_ascent(*clf, c, RunEvents({&observer}));
  const std::vector<double>& medians = observer.values;
  EXPECT_EQ(medians.size(), 40u);
  ASSERT_EQ(out.classes.size(), 3u);
  EXPECT_EQ(out.steps, 40);
  // Random weights: the probabilities cannot go far, but they must go up.
  EXPECT_GT(medians.back(), medians.front() + 0.01);
  EXPECT_TRUE(out.errors.empty());
  // With a target, classes stop once their 8-bit image reaches it, and report when they got there.
  c.target = 0.11;
  c.steps = 300;
  const AscentOutcome early = run_ascent(*clf, c);
  for (const auto& r : early.classes) {
    EXPECT_LT(r.extra["steps"].get<int>(), 300);
    ImageBatch b(1, {1, 28, 28});
    b.set(0, r.image);
    EXPECT_GE(clf->probabilities(b)(0, static_cast<std::size_t>(r.index)), 0.11f);
  }
  // Same seed, same images.
  EXPECT_EQ(run_ascent(*clf, c).classes[1].image.pixels, early.classes[1].image.pixels);
}

TEST(Ascent, RejectsNonsenseSettings) {
  ClassifierOptions o;
  auto clf = load_differentiable_classifier(testing::fixtures_dir() + "/mnist_bn_cnn.onnx", o);
  auto bad = [&](auto change) {
    AscentConfig c;
    change(c);
    EXPECT_THROW(run_ascent(*clf, c), Error);
  };
  bad([](AscentConfig& c) { c.classes = {10}; });
  bad([](AscentConfig& c) { c.steps = 0; });
  bad([](AscentConfig& c) { c.max_gain = -1; });
  bad([](AscentConfig& c) { c.decay = 1.0; });
  bad([](AscentConfig& c) { c.blur_every = 2; });
  // A start image is chosen by name from one table.
  EXPECT_EQ(parse_ascent_start("noise"), AscentStart::Noise);
  EXPECT_EQ(ascent_start_name(AscentStart::Mean), "mean");
  try {
    parse_ascent_start("black");
    ADD_FAILURE() << "accepted start image 'black'";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unknown start image 'black' (known: gray, mean, noise)");
  }
}

// A model whose scores are w_k * sqrt(mean(x) - 0.5): NaN for every class of an image darker than
// mid-gray, finite otherwise. From noise, some classes start dark and some bright.
std::string write_nan_model(const fs::path& dir) {
  testing::GraphBuilder g(13, {1, 2, 2});
  auto* flat = g.node("Flatten", {"x"});
  auto* mean = g.node("ReduceMean", {testing::out_of(flat)});
  testing::GraphBuilder::attr(mean, "axes", std::vector<std::int64_t>{1});
  auto* diff = g.node("Sub", {testing::out_of(mean), g.weight({}, 0.5f, 0.5f)});
  auto* root = g.node("Sqrt", {testing::out_of(diff)});
  auto* scores = g.node("Mul", {testing::out_of(root), g.weight({1, 4}, 0.1f, 0.4f)});
  g.metadata("fool.output", "probabilities");
  return g.write(dir / "nan.onnx", testing::out_of(scores), 4);
}

TEST(Ascent, ANaNStopsItsClassAndSparesTheOthers) {
  const fs::path dir = fs::temp_directory_path() / ("fool_ascent_nan_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ClassifierOptions o;
  auto clf = load_differentiable_classifier(write_nan_model(dir), o);
  AscentConfig c;
  c.steps = 5;
  c.target = 0.0;
  c.start = AscentStart::Noise;
  const AscentOutcome out = run_ascent(*clf, c);
  std::size_t stopped = 0;
  for (const auto& r : out.classes) {
    if (r.extra.contains("error")) {
      ++stopped;
      EXPECT_LT(r.extra["steps"].get<int>(), 5);
      EXPECT_NE(r.extra["error"].get<std::string>().find("NaN"), std::string::npos);
    } else {
      EXPECT_EQ(r.extra["steps"], 5);  // the others ran to the end
    }
  }
  EXPECT_EQ(out.errors.size(), stopped);
  EXPECT_GE(stopped, 1u);
  EXPECT_LT(stopped, 4u);
  fs::remove_all(dir);
}

// Two classes with logits +-19 * (x0 + x1 + x2 + relu(x - 2) summed): from mid-gray, class 1
// starts at p ~ 1e-25 with a gradient of ~1e-24, whose |g|^2 is below a float's range.
std::string write_tiny_probability_model(const fs::path& dir, float gain = 19.0f) {
  testing::GraphBuilder g(13, {1, 2, 2});
  auto* flat = g.node("Flatten", {"x"});
  auto* read = g.node("Gather", {testing::out_of(flat), g.ints({0, 1, 2})});
  testing::GraphBuilder::attr(read, "axis", std::int64_t{1});
  auto* read_sum = g.node("ReduceSum", {testing::out_of(read), g.ints({1})});
  // Every pixel enters the forward pass (a NaN anywhere makes the logits NaN), but through a ReLU
  // that is off on [0,1]: pixel 3's gradient is exactly 0, as behind a dead ReLU in a real network.
  auto* off = g.node("Relu", {testing::out_of(g.node("Sub", {testing::out_of(flat), g.weight({1, 4}, 2.0f, 2.0f)}))});
  auto* sum = g.node(
      "Add", {testing::out_of(read_sum), testing::out_of(g.node("ReduceSum", {testing::out_of(off), g.ints({1})}))});
  auto* up = g.node("Mul", {testing::out_of(sum), g.weight({1, 1}, gain, gain)});
  auto* down = g.node("Mul", {testing::out_of(sum), g.weight({1, 1}, -gain, -gain)});
  auto* logits = g.node("Concat", {testing::out_of(up), testing::out_of(down)});
  testing::GraphBuilder::attr(logits, "axis", std::int64_t{1});
  auto* p = g.node("Softmax", {testing::out_of(logits)});
  testing::GraphBuilder::attr(p, "axis", std::int64_t{1});
  return g.write(dir / "tiny.onnx", testing::out_of(p), 2);
}

// A class whose probability (and so gradient) is tiny takes its step in double precision instead of
// a float, where gain / |g|^2 overflowed into inf * 0 = NaN on the pixel whose gradient is 0.
TEST(Ascent, ATinyProbabilityTakesAFiniteStepNotANaN) {
  const fs::path dir = fs::temp_directory_path() / ("fool_ascent_tiny_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ClassifierOptions o;
  auto clf = load_differentiable_classifier(write_tiny_probability_model(dir), o);
  AscentConfig c;
  c.steps = 40;  // far from the target a step gains at most 5 nats of log p (57 to go), then 0.03 of p
  c.target = 0.0;
  c.classes = {1};
  const AscentOutcome out = run_ascent(*clf, c);
  EXPECT_TRUE(out.errors.empty()) << out.errors.front();
  ASSERT_EQ(out.classes.size(), 1u);
  EXPECT_FALSE(out.classes[0].extra.contains("error"));
  // The read pixels go to 0, where both logits are 0.
  EXPECT_NEAR(out.classes[0].search_confidence, 0.5, 1e-3);
  fs::remove_all(dir);
}

// With logits +-60 * (...) class 1 starts at p = e^-180, which is exactly 0 in float, and so is the
// gradient of p: an ascent on p never moves. On log p (the log-softmax of the logits) it climbs to
// the model's best, 0.5, and a class that cannot reach its target is reported as stalled, not as
// complete.
TEST(Ascent, AProbabilityOfExactlyZeroStillClimbsAndAPlateauIsReportedAsStalled) {
  const fs::path dir = fs::temp_directory_path() / ("fool_ascent_zero_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ClassifierOptions o;
  auto clf = load_differentiable_classifier(write_tiny_probability_model(dir, 60.0f), o);
  ImageBatch gray(1, {1, 2, 2});
  std::fill(gray.data(), gray.data() + 4, 0.5f);
  ASSERT_EQ(clf->probabilities(gray)(0, 1), 0.0f);  // the hard start this test is about
  AscentConfig c;
  c.steps = 100;
  c.classes = {1};
  c.target = 0.4;
  const AscentOutcome reached = run_ascent(*clf, c);
  ASSERT_EQ(reached.classes.size(), 1u);
  EXPECT_GE(reached.classes[0].search_confidence, 0.4);
  EXPECT_EQ(reached.classes[0].extra["status"], "reached target");
  EXPECT_TRUE(reached.complete);
  EXPECT_TRUE(reached.stalled.empty());
  // 0.5 is as high as class 1 goes: aiming at 0.9999 it stalls there.
  c.target = 0.9999;
  const AscentOutcome stalled = run_ascent(*clf, c);
  EXPECT_NEAR(stalled.classes[0].search_confidence, 0.5, 1e-3);
  EXPECT_EQ(stalled.classes[0].extra["status"], "stalled");
  EXPECT_FALSE(stalled.complete);
  EXPECT_FALSE(stalled.interrupted);
  ASSERT_EQ(stalled.stalled.size(), 1u);
  EXPECT_NE(stalled.stalled[0].find("stalled at best p = 0.5"), std::string::npos) << stalled.stalled[0];
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fool
