#include "fool/core/rounding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace fool {
namespace {

TEST(RoundNonnegative, IsStdLroundOnHalvesNeighboursAndRandomValues) {
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> any(0.0, 256.0);
  for (int k = 0; k <= 255 * 2; ++k) {  // every half step in the byte range and its neighbours
    const double h = k * 0.5;
    for (double x : {h, std::nextafter(h, 0.0), std::nextafter(h, 1e9)}) {
      EXPECT_EQ(round_nonnegative(x), std::lround(x)) << x;
      const auto xf = static_cast<float>(x);
      for (float y : {xf, std::nextafter(xf, 0.0f), std::nextafter(xf, 1e9f)})
        EXPECT_EQ(round_nonnegative(y), std::lround(y)) << y;
    }
  }
  for (int i = 0; i < 1000000; ++i) {
    const double x = any(gen);
    ASSERT_EQ(round_nonnegative(x), std::lround(x)) << x;
    ASSERT_EQ(round_nonnegative(static_cast<float>(x)), std::lround(static_cast<float>(x))) << x;
  }
  // The largest double below 0.5: x + 0.5 rounds up to 1 in floating point, lround gives 0.
  EXPECT_EQ(round_nonnegative(0.49999999999999994), 0);
  EXPECT_EQ(std::lround(0.49999999999999994), 0);
}

TEST(RoundNonnegative, NanAndNegativeGiveZero) {
  EXPECT_EQ(round_nonnegative(std::numeric_limits<double>::quiet_NaN()), 0);
  EXPECT_EQ(round_nonnegative(std::numeric_limits<float>::quiet_NaN()), 0);
  EXPECT_EQ(round_nonnegative(-0.0), 0);
  EXPECT_EQ(round_nonnegative(-3.7), 0);
  EXPECT_EQ(round_to_byte(254.5f), 255);
  EXPECT_EQ(round_to_byte(0.0), 0);
}

}  // namespace
}  // namespace fool
