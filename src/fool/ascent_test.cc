#include "fool/ascent.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <numeric>

#include "fool/error.h"
#include "fool/files.h"
#include "fool/test_support.h"

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
  o.backend = Backend::Torch;
  auto clf = load_differentiable_classifier(testing::fixtures_dir() + "/mnist_bn_cnn.onnx", o);
  AscentConfig c;
  c.classes = {0, 3, 7};
  c.steps = 40;
  c.target = 0.0;
  std::vector<double> medians;
  const AscentOutcome out = run_ascent(*clf, c, [&](const AscentStepStats& s) { medians.push_back(s.median); });
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
  bad([](AscentConfig& c) { c.start = "black"; });
}

// A model whose scores are w_k * sqrt(mean(x) - 0.5): NaN for every class of an image darker than
// mid-gray, finite otherwise. From noise, some classes start dark and some bright.
std::string write_nan_model(const fs::path& dir) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("N");
  for (int d : {1, 2, 2}) tt->mutable_shape()->add_dim()->set_dim_value(d);
  auto constant = [&](const std::string& name, std::vector<std::int64_t> dims, std::vector<float> values) {
    auto* w = g->add_initializer();
    w->set_name(name);
    w->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) w->add_dims(d);
    for (float v : values) w->add_float_data(v);
  };
  constant("half", {}, {0.5f});
  constant("w", {1, 4}, {0.1f, 0.2f, 0.3f, 0.4f});
  auto node = [&](const std::string& op, std::vector<std::string> ins, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + out);
    for (auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  };
  node("Flatten", {"x"}, "f");
  auto* mean = node("ReduceMean", {"f"}, "m");
  auto* axes = mean->add_attribute();
  axes->set_name("axes");
  axes->set_type(onnx::AttributeProto::INTS);
  axes->add_ints(1);
  node("Sub", {"m", "half"}, "d");
  node("Sqrt", {"d"}, "r");
  node("Mul", {"r", "w"}, "p");
  auto* out = g->add_output();
  out->set_name("p");
  auto* ot = out->mutable_type()->mutable_tensor_type();
  ot->set_elem_type(onnx::TensorProto::FLOAT);
  ot->mutable_shape()->add_dim()->set_dim_param("N");
  ot->mutable_shape()->add_dim()->set_dim_value(4);
  auto* meta = m.add_metadata_props();
  meta->set_key("fool.output");
  meta->set_value("probabilities");
  std::string bytes;
  m.SerializeToString(&bytes);
  const std::string path = (dir / "nan.onnx").string();
  write_file_atomic(path, bytes);
  return path;
}

TEST(Ascent, ANaNStopsItsClassAndSparesTheOthers) {
  const fs::path dir = fs::temp_directory_path() / ("fool_ascent_nan_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ClassifierOptions o;
  auto clf = load_differentiable_classifier(write_nan_model(dir), o);
  AscentConfig c;
  c.steps = 5;
  c.target = 0.0;
  c.start = "noise";
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

}  // namespace
}  // namespace fool
