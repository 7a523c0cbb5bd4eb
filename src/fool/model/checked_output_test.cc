#include "fool/model/checked_output.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "fool/core/error.h"

namespace fool {
namespace {

// A backend that returns a fixed 2 x 3 output, whatever the images.
class Fixed : public Classifier {
 public:
  Fixed(std::vector<float> values, bool probabilities) : values_(std::move(values)) {
    spec_.path = "m.onnx";
    spec_.input = {1, 2, 2};
    spec_.num_classes = 3;
    spec_.preprocessing.output_is_probabilities = probabilities;
  }
  const ModelSpec& spec() const override { return spec_; }
  Backend backend() const override { return Backend("torch"); }
  Matrix probabilities(const ImageBatch&) override {
    Matrix m(2, 3);
    std::copy(values_.begin(), values_.end(), m.data());
    return m;
  }

 private:
  ModelSpec spec_;
  std::vector<float> values_;
};

std::string error_of(std::vector<float> values, bool probabilities) {
  auto c = with_checked_output(std::make_unique<Fixed>(std::move(values), probabilities));
  try {
    c->probabilities(ImageBatch(2, {1, 2, 2}));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CheckedOutput, ProbabilitiesPassUnchanged) {
  auto c = with_checked_output(
      std::make_unique<Fixed>(std::vector<float>{0.2f, 0.3f, 0.5f, 1.00005f, 0.0f, -0.00005f}, true));
  const Matrix m = c->probabilities(ImageBatch(2, {1, 2, 2}));
  EXPECT_FLOAT_EQ(m(1, 0), 1.00005f);  // rounding beyond 1 is tolerated and kept as it came
  EXPECT_EQ(c->spec().path, "m.onnx");
}

TEST(CheckedOutput, NanInfinityAndValuesOutsideZeroOneAreOneLineNamingTheModelAndTheOutput) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(error_of({0.2f, 0.3f, 0.5f, 0.1f, nan, 0.9f}, true).rfind("m.onnx: output [image 1, class 1] is NaN", 0),
            0u);
  EXPECT_NE(error_of({0.2f, inf, 0.5f, 0.1f, 0.0f, 0.9f}, false).find("[image 0, class 1] is inf"), std::string::npos);
  const std::string big = error_of({0.2f, 0.3f, 9.19f, 0.1f, 0.0f, 0.9f}, true);
  EXPECT_NE(big.find("[image 0, class 2] is 9.1"), std::string::npos) << big;
  EXPECT_NE(big.find("--logits"), std::string::npos) << big;
  EXPECT_NE(error_of({0.2f, 0.3f, 0.5f, -0.01f, 0.0f, 0.9f}, true).find("[image 1, class 0] is -0.01"),
            std::string::npos);
  EXPECT_EQ(error_of({0.2f, 0.3f, 0.5f, 0.1f, 0.0f, 0.9f}, true).find('\n'), std::string::npos);
  // A model that outputs logits (fool applies softmax) is not held to [0, 1] here, only to finite values.
  EXPECT_EQ(error_of({0.2f, 3.0f, -5.0f, 0.1f, 0.0f, 0.9f}, false), "");
}

// Issue 20: an ONNX x / x gave 1 for every class (NaN only on black pixels) and was accepted as
// probabilities; each value is in [0, 1] but the row is no distribution.
TEST(CheckedOutput, RowsOfProbabilitiesMustAddUpToOne) {
  const std::string ones = error_of({0.2f, 0.3f, 0.5f, 1.0f, 1.0f, 1.0f}, true);
  EXPECT_EQ(ones.rfind("m.onnx: the outputs of image 1 add up to 3, not 1", 0), 0u) << ones;
  EXPECT_NE(ones.find("--logits"), std::string::npos) << ones;
  EXPECT_NE(error_of({0.1f, 0.1f, 0.1f, 0.2f, 0.3f, 0.5f}, true).find("image 0 add up to 0.3"), std::string::npos);
  EXPECT_EQ(error_of({0.2f, 0.3f, 0.5004f, 0.3333333f, 0.3333333f, 0.3333333f}, true), "");  // rounding
  EXPECT_EQ(error_of({1.0f, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f}, false), "");  // logits: any finite values
}

}  // namespace
}  // namespace fool
