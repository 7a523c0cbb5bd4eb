// Training: determinism for a seed, ONNX round trip through both backends, and that it learns.
#include "fool/train/train.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fool/core/error.h"
#include "fool/core/rng.h"
#include "fool/io/files.h"
#include "fool/model/classifier.h"
#include "fool/model/factory.h"
#include "fool/model/registry.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

// Class k: a bright horizontal bar at rows 2k+4 .. 2k+5 over noise. Learnable in an epoch or two.
Dataset bars(std::size_t n, std::uint64_t seed) {
  Dataset d;
  d.shape = {1, 28, 28};
  d.class_names = class_names_for("mnist");
  Rng rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    const int k = static_cast<int>(i % 10);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const bool bar = y == 2 * k + 4 || y == 2 * k + 5;
        d.images.push_back(static_cast<std::uint8_t>(bar ? 200 + rng.below(56) : rng.below(60)));
      }
    d.labels.push_back(static_cast<std::uint8_t>(k));
  }
  return d;
}

class TrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_train_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    data_.name = "bars";
    data_.train = bars(600, 1);
    data_.test = bars(200, 2);
  }
  void TearDown() override { fs::remove_all(dir_); }
  TrainOptions options(const std::string& arch, int epochs = 2) {
    TrainOptions o;
    o.arch = arch;
    o.epochs = epochs;
    o.batch_size = 32;
    o.seed = 5;
    o.threads = 2;
    o.dataset_name = "bars";
    o.max_shift = 0;  // a 2-pixel shift would move a bar onto the next class's rows
    return o;
  }
  std::string path(const std::string& name) { return (dir_ / name).string(); }
  fs::path dir_;
  DatasetSplits data_;
};

TEST_F(TrainTest, SameSeedSameWeightsOtherSeedOtherWeights) {
  const auto a = train_classifier(data_, options("lenet", 1), path("a.onnx"));
  const auto b = train_classifier(data_, options("lenet", 1), path("b.onnx"));
  auto other = options("lenet", 1);
  other.seed = 6;
  const auto c = train_classifier(data_, other, path("c.onnx"));
  EXPECT_EQ(a.model_sha256, b.model_sha256);
  EXPECT_EQ(sha256_file(path("a.onnx")), sha256_file(path("b.onnx")));
  EXPECT_NE(a.model_sha256, c.model_sha256);
}

TEST_F(TrainTest, EveryArchitectureRoundTripsThroughBothBackendsAndLearns) {
  for (const std::string& arch : architecture_names()) {
    SCOPED_TRACE(arch);
    const std::string p = path(arch + ".onnx");
    const TrainResult r = train_classifier(data_, options(arch, 3), p);
    EXPECT_GT(r.test_accuracy, 0.9);
    EXPECT_EQ(r.epoch_loss.size(), 3u);
    EXPECT_LT(r.epoch_loss.back(), r.epoch_loss.front());
    if (!backend_registered("opencv")) continue;  // (the rest compares opencv with torch)
    ClassifierOptions o;
    o.backend = Backend("opencv");
    auto cv = load_classifier(p, o);
    o.backend = Backend("torch");
    auto th = load_classifier(p, o);
    EXPECT_EQ(cv->spec().labels, data_.train.class_names);
    EXPECT_TRUE(cv->spec().preprocessing.output_is_probabilities);
    const ImageBatch batch = data_.test.batch(0, 50);
    const Matrix a = cv->probabilities(batch), b = th->probabilities(batch);
    for (std::size_t i = 0; i < a.rows() * a.cols(); ++i) ASSERT_NEAR(a.data()[i], b.data()[i], 1e-4f);
  }
}

TEST_F(TrainTest, BadOptionsAreRejectedBeforeTraining) {
  auto o = options("lenet");
  o.arch = "resnet";
  EXPECT_THROW(train_classifier(data_, o, path("x.onnx")), Error);
  o = options("lenet");
  o.epochs = 0;
  EXPECT_THROW(train_classifier(data_, o, path("x.onnx")), Error);
  EXPECT_FALSE(fs::exists(path("x.onnx")));
}

}  // namespace
}  // namespace fool
