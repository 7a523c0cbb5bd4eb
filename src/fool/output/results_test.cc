#include "fool/output/results.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "fool/core/error.h"
#include "fool/core/thresholds.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

TEST(Results, PercentRoundsDown) {
  EXPECT_EQ(percent(0.99995), "99.995%");
  EXPECT_EQ(percent(0.999949), "99.9949%");
  EXPECT_EQ(percent(1.0), "100%");
  EXPECT_EQ(percent(0.5), "50.00%");
  EXPECT_EQ(percent(0.17), "17.00%");
  EXPECT_EQ(percent(0.1 + 0.07), "17.00%");
  EXPECT_EQ(percent(0.0), "0%");
}

TEST(Results, PercentKeepsTheDistanceTo100VisibleAnd0Scientific) {
  EXPECT_EQ(percent(0.99), "99.00%");
  EXPECT_EQ(percent(0.999), "99.90%");
  EXPECT_EQ(percent(0.9999), "99.99%");
  EXPECT_EQ(percent(0.999999), "99.9999%");
  EXPECT_EQ(percent(0.99999998), "99.999998%");
  // As a float (what the archive keeps) 0.9999 is 0.99989998...: shown as it is, not rounded up.
  EXPECT_EQ(percent(static_cast<double>(0.9999f)), "99.989%");
  EXPECT_NE(percent(0.9999), percent(0.99999));
  EXPECT_EQ(percent(1.8e-16), "1.8e-14%");
  EXPECT_EQ(percent(0.00012), "0.01%");
  EXPECT_EQ(percent(0.00005), "5.0e-03%");
  EXPECT_EQ(percent(std::nextafter(1.0, 0.0)), "99.9999999999%");
}

TEST(Results, ConfidenceScaleSeparatesTheNinesAndTheZeros) {
  EXPECT_NEAR(confidence_scale(0.5), 0.0, 1e-12);
  EXPECT_NEAR(confidence_scale(0.99), std::log10(99.0), 1e-9);
  EXPECT_GT(confidence_scale(0.9999) - confidence_scale(0.999), 0.9);
  EXPECT_GT(confidence_scale(0.999) - confidence_scale(0.99), 0.9);
  EXPECT_NEAR(confidence_scale(0.01), -confidence_scale(0.99), 1e-9);
  EXPECT_NEAR(confidence_scale(1.0), 12.0, 1e-3);  // clamped, finite
  EXPECT_NEAR(confidence_scale(0.0), -12.0, 1e-3);
  EXPECT_LT(confidence_scale(1.8e-16), confidence_scale(1e-6));
}

TEST(Results, WritesTheLayoutAndReportsTheSavedFilesConfidence) {
  const fs::path dir = fs::temp_directory_path() / ("fool_results_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  testing::FakeClassifier clf({1, 8, 8}, 3, 20.0f);
  std::vector<ClassResult> classes;
  for (int k = 0; k < 3; ++k) {
    ClassResult r;
    r.index = k;
    r.label = "c" + std::to_string(k);
    // Class 1's image is darker than its class centre: about 88% under the fake model.
    r.image = {{1, 8, 8}, std::vector<std::uint8_t>(64, static_cast<std::uint8_t>(k == 1 ? 90 : k * 127))};
    r.search_confidence = k == 1 ? 1.0f : 0.5f;  // class 1 claims more than its file gives: flagged
    r.first_reached = {k, -1};
    if (k == 1) r.genome = {{"encoding", "test"}};
    classes.push_back(r);
  }
  RunRecord rec;
  rec.command = "evolve";
  rec.seed = 5;
  rec.thresholds = evolution_thresholds();
  const auto s = write_results(dir.string(), rec, classes, clf);
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(fs::exists(dir / "images" / ("class_" + std::to_string(k) + ".png")));
  EXPECT_TRUE(fs::exists(dir / "genomes" / "class_1.json"));
  EXPECT_FALSE(fs::exists(dir / "genomes" / "class_0.json"));
  EXPECT_EQ(read_image((dir / "grid.png").string()).shape.channels, 3);
  // What was written reads back to the same summary.
  const RunSummary back = read_summary(dir.string());
  EXPECT_EQ(back.to_json(), s.to_json());
  const nlohmann::json j = read_json_file((dir / "summary.json").string());
  ASSERT_EQ(back.classes.size(), 3u);
  // Confidence is the PNG's score under the classifier.
  ImageBatch b(1, {1, 8, 8});
  b.set(0, read_image((dir / "images" / "class_1.png").string()));
  EXPECT_FLOAT_EQ(static_cast<float>(back.classes[1].confidence), clf.probabilities(b)(0, 1));
  EXPECT_LT(back.classes[1].confidence, 0.95);
  EXPECT_EQ(back.classes[1].lost_in_quantisation, evolution_thresholds());
  EXPECT_EQ(j["classes"][1]["lost_in_quantisation"].size(), 2u);
  EXPECT_FALSE(j["classes"][0].contains("lost_in_quantisation"));
  EXPECT_EQ(j["classes"][0]["first_reached"]["0.99"], 0);
  EXPECT_TRUE(j["classes"][0]["first_reached"]["0.9999"].is_null());
  EXPECT_EQ(back.classes[0].first_reached, (std::vector<std::optional<int>>{0, std::nullopt}));
  EXPECT_EQ(back.classes[1].genome, "genomes/class_1.json");
  EXPECT_EQ(j["seed"], 5);
  write_file_atomic((dir / "summary.json").string(), std::string("{\"format\": \"other\"}"));
  EXPECT_THROW(read_summary(dir.string()), Error);
  EXPECT_THROW(read_summary((dir / "nowhere").string()), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fool
