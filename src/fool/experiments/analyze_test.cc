#include "fool/experiments/analyze.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "fool/core/error.h"
#include "fool/core/rng.h"
#include "fool/io/files.h"
#include "fool/io/image_io.h"
#include "fool/model/cropping_classifier.h"
#include "fool/model/factory.h"
#include "fool/output/run_summary.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

Image8 noise(ImageShape shape, std::uint64_t seed) {
  Image8 im{shape, std::vector<std::uint8_t>(shape.size())};
  Rng rng(seed);
  for (auto& p : im.pixels) p = static_cast<std::uint8_t>(rng.below(256));
  return im;
}

// A random motif of motif_h x motif_w repeated over the whole image (cut at the edges).
Image8 tiled(ImageShape shape, int motif_h, int motif_w, std::uint64_t seed) {
  const Image8 motif = noise({shape.channels, motif_h, motif_w}, seed);
  Image8 im{shape, std::vector<std::uint8_t>(shape.size())};
  for (int c = 0; c < shape.channels; ++c)
    for (int y = 0; y < shape.height; ++y)
      for (int x = 0; x < shape.width; ++x)
        im.pixels[(c * shape.height + y) * shape.width + x] =
            motif.pixels[(c * motif_h + y % motif_h) * motif_w + x % motif_w];
  return im;
}

TEST(Repetition, FindsThePeriodOfTiledImages) {
  const RepetitionConfig config;
  for (int p : {3, 4, 5, 7, 9, 14}) {
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      const Period period = find_period(tiled({1, 28, 28}, p, p, 100 * seed + p), config);
      EXPECT_EQ(period.dy, p) << "motif " << p << " seed " << seed;
      EXPECT_EQ(period.dx, p) << "motif " << p << " seed " << seed;
      EXPECT_GT(period.correlation_x, 0.9);
    }
  }
  // Colour, different periods per axis.
  const Period c = find_period(tiled({3, 60, 60}, 10, 6, 3), config);
  EXPECT_EQ(c.dy, 10);
  EXPECT_EQ(c.dx, 6);
}

TEST(Repetition, NoiseAndSmoothImagesDoNotRepeat) {
  const RepetitionConfig config;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    EXPECT_FALSE(find_period(noise({1, 28, 28}, seed), config).repeats()) << "seed " << seed;
    EXPECT_FALSE(find_period(noise({3, 64, 64}, seed), config).repeats()) << "seed " << seed;
  }
  // A smooth gradient correlates strongly with itself at every shift but has no second peak.
  Image8 g{{1, 32, 32}, std::vector<std::uint8_t>(32 * 32)};
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) g.pixels[y * 32 + x] = static_cast<std::uint8_t>(4 * x + 3 * y);
  EXPECT_FALSE(find_period(g, config).repeats());
  // A constant image has nothing to repeat.
  EXPECT_FALSE(find_period(Image8{{1, 16, 16}, std::vector<std::uint8_t>(256, 7)}, config).repeats());
}

TEST(Repetition, StripesRepeatAlongOneAxisOnly) {
  Image8 s{{1, 28, 28}, std::vector<std::uint8_t>(28 * 28)};
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) s.pixels[y * 28 + x] = (x % 5) < 2 ? 255 : 0;
  const Period p = find_period(s, RepetitionConfig{});
  EXPECT_EQ(p.dx, 5);
  EXPECT_EQ(p.dy, 0);
  const auto tiles = period_tiles(s.shape, p);
  // 28 / 5: five full copies and a 3-pixel remainder (more than half a period) as a sixth.
  ASSERT_EQ(tiles.size(), 6u);
  EXPECT_EQ(tiles[0].height, 28);
  EXPECT_EQ(tiles[5].left, 25);
  EXPECT_EQ(tiles[5].width, 3);
}

TEST(Repetition, TilesCoverTheImageAndShortRemaindersJoinTheLastCopy) {
  const auto tiles = period_tiles({1, 28, 28}, Period{9, 0});
  ASSERT_EQ(tiles.size(), 3u);  // 9 + 9 + 10: the 1-pixel remainder is no copy of its own
  EXPECT_EQ(tiles[2].top, 18);
  EXPECT_EQ(tiles[2].height, 10);
  EXPECT_EQ(period_tiles({1, 28, 28}, Period{}).size(), 1u);
  int area = 0;
  for (const auto& t : period_tiles({1, 30, 20}, Period{4, 6})) area += t.height * t.width;
  EXPECT_EQ(area, 600);
}

TEST(Repetition, RemovalStepsAreCappedButKeepAllHalfAndOne) {
  EXPECT_EQ(removal_steps(1, 32), (std::vector<int>{0}));
  EXPECT_EQ(removal_steps(4, 32), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(removal_steps(11, 3), (std::vector<int>{0, 5, 10}));
  EXPECT_EQ(removal_steps(10, 3), (std::vector<int>{0, 5, 9}));  // 4.5 rounds to 5 = half
  const auto many = removal_steps(2601, 32);
  EXPECT_LE(many.size(), 33u);
  EXPECT_EQ(many.front(), 0);
  EXPECT_EQ(many.back(), 2600);
  EXPECT_NE(std::find(many.begin(), many.end(), 1300), many.end());
  EXPECT_TRUE(std::is_sorted(many.begin(), many.end()));
}

TEST(Repetition, FillUsesTheMeanColourPerChannel) {
  Image8 im{{3, 2, 2}, {0, 0, 100, 100, 10, 10, 10, 10, 255, 0, 255, 0}};
  const auto m = mean_colour(im);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_DOUBLE_EQ(m[0], 50.0);
  EXPECT_DOUBLE_EQ(m[1], 10.0);
  EXPECT_DOUBLE_EQ(m[2], 127.5);
  fill_tiles(im, {{0, 1, 2, 1}}, m);
  EXPECT_EQ(im.pixels, (std::vector<std::uint8_t>{0, 50, 100, 50, 10, 10, 10, 10, 255, 128, 255, 128}));
}

TEST(Occlusion, PatchPositionsCoverEveryPixel) {
  EXPECT_EQ(patch_positions(28, 4, 2).size(), 13u);
  EXPECT_EQ(patch_positions(28, 4, 2).back(), 24);
  EXPECT_EQ(patch_positions(10, 4, 3), (std::vector<int>{0, 3, 6}));
  EXPECT_EQ(patch_positions(11, 4, 3), (std::vector<int>{0, 3, 6, 7}));
  EXPECT_EQ(patch_positions(4, 8, 1), (std::vector<int>{0}));
}

TEST(Occlusion, HeatmapIsRedForDropsBlueForRisesWhiteForNone) {
  const Image8 h = occlusion_heatmap({0.5f, -0.5f, 0.0f, 0.25f}, 2, 2, 0.5);
  ASSERT_EQ(h.shape, (ImageShape{3, 2, 2}));
  // pixel 0: full drop -> red; pixel 1: full rise -> blue; pixel 2: white; pixel 3: half red.
  EXPECT_EQ(h.pixels[0], 255);
  EXPECT_EQ(h.pixels[4], 0);
  EXPECT_EQ(h.pixels[8], 0);
  EXPECT_EQ(h.pixels[1], 0);
  EXPECT_EQ(h.pixels[5], 0);
  EXPECT_EQ(h.pixels[9], 255);
  EXPECT_EQ(h.pixels[2], 255);
  EXPECT_EQ(h.pixels[6], 255);
  EXPECT_EQ(h.pixels[10], 255);
  EXPECT_EQ(h.pixels[3], 255);
  EXPECT_EQ(h.pixels[7], 128);
}

// A run directory written by hand: champions as PNGs and a summary naming a fixture model.
class AnalyzeRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_analyze_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "images");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_run(const std::string& model, int crops, const std::vector<Image8>& images) {
    RunSummary s;
    s.record.command = "evolve";
    s.record.model = model;
    s.record.backend = "opencv";
    s.record.method = "direct";
    s.record.settings = {{"crops", crops}};
    s.record.thresholds = {0.99};
    s.classes_at_or_above = {0};
    for (std::size_t k = 0; k < images.size(); ++k) {
      ClassSummary c;
      c.index = static_cast<int>(k);
      c.label = std::to_string(k);
      c.image = "images/class_" + std::to_string(k) + ".png";
      c.first_reached = {std::nullopt};
      write_png((dir_ / c.image).string(), images[k]);
      s.classes.push_back(c);
    }
    write_file_atomic((dir_ / "summary.json").string(), s.to_json().dump(2));
  }
  std::string dir() const { return dir_.string(); }

  fs::path dir_;
};

TEST_F(AnalyzeRun, RepetitionScoresEveryRemovalWithTheRunsModel) {
  const std::string model = testing::fixtures_dir() + "/mnist_bn_cnn.onnx";
  write_run(model, 1, {tiled({1, 28, 28}, 7, 7, 1), noise({1, 28, 28}, 2)});
  const RepetitionResult r = analyze_repetition(dir(), RepetitionConfig{});
  ASSERT_EQ(r.images.size(), 2u);
  EXPECT_EQ(r.images[0].period.dy, 7);
  EXPECT_EQ(r.images[0].copies, 16);
  ASSERT_EQ(r.images[0].confidences.size(), 16u);
  EXPECT_EQ(r.images[0].removed.back(), 15);
  EXPECT_FALSE(r.images[1].period.repeats());
  EXPECT_EQ(r.images[1].confidences.size(), 1u);
  // The first confidence is that of the image as it is, scored directly.
  auto clf = load_classifier(model, {});
  ImageBatch b(1, {1, 28, 28});
  b.set(0, read_image(dir() + "/images/class_0.png"));
  EXPECT_NEAR(r.images[0].all_copies(), clf->probabilities(b)(0, 0), 1e-6);
  // With one copy left, the image is the first tile on the mean colour.
  const Image8 one = read_image(dir() + "/images/class_0_one_copy.png");
  const auto mean = mean_colour(read_image(dir() + "/images/class_0.png"));
  EXPECT_EQ(one.pixels[27 * 28 + 27], static_cast<std::uint8_t>(std::lround(mean[0])));
  EXPECT_EQ(one.pixels[3 * 28 + 3], read_image(dir() + "/images/class_0.png").pixels[3 * 28 + 3]);
  const auto j = read_json_file(dir() + "/analysis/repetition.json");
  EXPECT_EQ(j["format"], "fool-repetition/1");
  EXPECT_EQ(j["repeating"], 1);
  EXPECT_DOUBLE_EQ(j["classes"][0]["confidence_one_copy"].get<double>(), r.images[0].one_copy());
  EXPECT_DOUBLE_EQ(j["classes"][0]["confidence_half_copies"].get<double>(), r.images[0].confidences[8]);
}

TEST_F(AnalyzeRun, OcclusionIsDeterministicAndWritesHeatmaps) {
  const std::string model = testing::fixtures_dir() + "/mnist_bn_cnn.onnx";
  write_run(model, 1, {noise({1, 28, 28}, 3), noise({1, 28, 28}, 4)});
  OcclusionConfig c;
  c.patch = 7;
  c.stride = 7;
  c.masks = 3;
  c.seed = 5;
  const OcclusionResult a = analyze_occlusion(dir(), c);
  const std::string first = read_text_file(dir() + "/analysis/occlusion.json");
  ASSERT_EQ(a.images.size(), 2u);
  EXPECT_EQ(a.images[0].positions_y, 4);
  EXPECT_EQ(a.images[0].drops.size(), 16u);
  EXPECT_EQ(a.images[0].filled_median.size(), 3u);
  EXPECT_EQ(a.images[0].filled[1].size(), 3u);
  const Image8 heat = read_image(dir() + "/images/class_1_occlusion.png");
  EXPECT_EQ(heat.shape, (ImageShape{3, 28, 28}));
  analyze_occlusion(dir(), c);
  EXPECT_EQ(read_text_file(dir() + "/analysis/occlusion.json"), first);
  c.seed = 6;
  const OcclusionResult b = analyze_occlusion(dir(), c);
  EXPECT_EQ(b.images[0].drops, a.images[0].drops);  // the sliding patch has no randomness
  EXPECT_NE(b.images[0].filled, a.images[0].filled);
}

TEST_F(AnalyzeRun, ColourTenCropRunsAreScoredThroughTheCrops) {
  const std::string model = testing::fixtures_dir() + "/squeezenet1_1_random.onnx";
  write_run(model, 10, {noise({3, 256, 256}, 7)});
  OcclusionConfig c;
  c.patch = 128;
  c.stride = 128;
  c.masks = 1;
  c.fractions = {0.5};
  const OcclusionResult r = analyze_occlusion(dir(), c);
  std::shared_ptr<Classifier> inner = load_classifier(model, {});
  auto crop = make_cropping_classifier(inner, {3, 256, 256}, 10);
  ImageBatch b(1, {3, 256, 256});
  b.set(0, read_image(dir() + "/images/class_0.png"));
  EXPECT_NEAR(r.images[0].confidence, crop->probabilities(b)(0, 0), 1e-6);
  EXPECT_EQ(r.images[0].drops.size(), 4u);
}

TEST_F(AnalyzeRun, ARunWithoutChampionsIsAOneLineErrorAndWritesNothing) {
  write_run(testing::fixtures_dir() + "/mnist_bn_cnn.onnx", 1, {});
  try {
    analyze_repetition(dir(), RepetitionConfig{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("summary.json: the run has no champions"), std::string::npos) << e.what();
  }
  EXPECT_THROW(analyze_occlusion(dir(), OcclusionConfig{}), Error);
  EXPECT_FALSE(fs::exists(dir_ / "analysis"));
  EXPECT_THROW(analyze_repetition((dir_ / "missing").string(), RepetitionConfig{}), Error);
}

}  // namespace
}  // namespace fool
