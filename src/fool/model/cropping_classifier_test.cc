#include "fool/model/cropping_classifier.h"

#include <gtest/gtest.h>

#include "fool/core/error.h"
#include "fool/testing/test_support.h"

namespace fool {
namespace {

TEST(Crops, TenCropLayoutIsCornersCentreAndMirrors) {
  const auto crops = crop_layout({3, 256, 256}, {3, 227, 227}, 10);
  ASSERT_EQ(crops.size(), 10u);
  EXPECT_EQ(crops[0].top, 0);
  EXPECT_EQ(crops[3].top, 29);
  EXPECT_EQ(crops[3].left, 29);
  EXPECT_EQ(crops[4].top, 14);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(crops[static_cast<std::size_t>(i)].mirrored);
    EXPECT_TRUE(crops[static_cast<std::size_t>(i + 5)].mirrored);
  }
  EXPECT_EQ(crop_layout({3, 256, 256}, {3, 224, 224}, 1).size(), 1u);
  EXPECT_THROW(crop_layout({3, 200, 200}, {3, 224, 224}, 10), Error);
  EXPECT_THROW(crop_layout({3, 256, 256}, {3, 224, 224}, 5), Error);
}

TEST(Crops, ProbabilitiesAreTheMeanOverCrops) {
  // The fake model's class is the crop's brightness: an image bright in one corner only gives that
  // corner's crop (and its mirror) a different answer, and the mean must reflect exactly that.
  auto inner = std::make_shared<testing::FakeClassifier>(ImageShape{1, 8, 8}, 3);
  auto wrapped = make_cropping_classifier(inner, {1, 12, 12}, 10, 7);
  EXPECT_EQ(wrapped->spec().input, (ImageShape{1, 12, 12}));
  ImageBatch img(2, {1, 12, 12});
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 12; ++x) img.image(0)[y * 12 + x] = (y < 4 && x < 4) ? 1.0f : 0.5f;
  const Matrix p = wrapped->probabilities(img);
  ImageBatch crops(10, {1, 8, 8});
  const auto layout = crop_layout({1, 12, 12}, {1, 8, 8}, 10);
  for (std::size_t c = 0; c < 10; ++c)
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        const int sx = layout[c].mirrored ? layout[c].left + 7 - x : layout[c].left + x;
        crops.image(c)[y * 8 + x] = img.image(0)[(layout[c].top + y) * 12 + sx];
      }
  const Matrix each = inner->probabilities(crops);
  for (std::size_t k = 0; k < 3; ++k) {
    double mean = 0;
    for (std::size_t c = 0; c < 10; ++c) mean += each(c, k) / 10.0;
    EXPECT_NEAR(p(0, k), mean, 1e-6);
  }
}

TEST(Crops, GrayImagesFeedColourModels) {
  auto inner = std::make_shared<testing::FakeClassifier>(ImageShape{3, 8, 8}, 3);
  auto wrapped = make_cropping_classifier(inner, {1, 8, 8}, 1);
  ImageBatch img(1, {1, 8, 8});
  for (int i = 0; i < 64; ++i) img.data()[i] = 1.0f;
  EXPECT_GT(wrapped->probabilities(img)(0, 2), 0.9f);  // all white in every channel: the last class
}

TEST(ScoreInChunks, SameRowsWhateverTheChunk) {
  testing::FakeClassifier clf({1, 4, 4}, 4);
  ImageBatch b(9, {1, 4, 4});
  for (std::size_t i = 0; i < 9 * 16; ++i) b.data()[i] = static_cast<float>(i % 11) / 10.0f;
  const Matrix whole = score_in_chunks(clf, b, 0);
  const Matrix parts = score_in_chunks(clf, b, 4);
  ASSERT_EQ(parts.rows(), 9u);
  for (std::size_t i = 0; i < 9 * 4; ++i) EXPECT_EQ(whole.data()[i], parts.data()[i]);
}

}  // namespace
}  // namespace fool
