#pragma once
// Helpers shared by the unit tests: where the shared ONNX fixtures are, and reading them.
#include <cstdlib>
#include <string>
#include <vector>

#include "fool/io/files.h"

namespace fool::testing {

inline std::string fixtures_dir() {
  if (const char* env = std::getenv("FOOL_FIXTURES_DIR"); env != nullptr && *env != '\0') return env;
  return FOOL_FIXTURES_DIR;
}

inline std::vector<float> read_f32(const std::string& path) {
  const auto bytes = read_file(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.begin() + static_cast<long>(out.size() * sizeof(float)),
            reinterpret_cast<std::uint8_t*>(out.data()));
  return out;
}

}  // namespace fool::testing

#include <cmath>
#include <initializer_list>

#include "fool/model/classifier.h"
#include "fool/model/registry.h"

namespace fool::testing {

// The backends of `names` that this build registers (opencv is not where fool was built with
// -DFOOL_WITH_OPENCV=OFF), in the order given: what a test that compares backends compares.
inline std::vector<Backend> registered_backends(std::initializer_list<const char*> names) {
  std::vector<Backend> out;
  for (const char* n : names)
    if (backend_registered(n)) out.emplace_back(n);
  return out;
}

// A deterministic stand-in model: class k's logit is -sharpness * (mean brightness - k/(K-1))^2, so
// an image's class is its brightness. Rows are computed independently, exactly.
class FakeClassifier : public Classifier {
 public:
  FakeClassifier(ImageShape input, int classes, float sharpness = 200.0f) {
    spec_.path = "fake.onnx";
    spec_.input = input;
    spec_.num_classes = classes;
    for (int k = 0; k < classes; ++k) spec_.labels.push_back("c" + std::to_string(k));
    sharpness_ = sharpness;
  }
  const ModelSpec& spec() const override { return spec_; }
  Backend backend() const override { return Backend("opencv"); }  // the name a run records; nothing loads it
  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec_, images);
    ++calls;
    Matrix m(images.size(), static_cast<std::size_t>(spec_.num_classes));
    for (std::size_t i = 0; i < images.size(); ++i) {
      double mean = 0;
      for (std::size_t p = 0; p < spec_.input.size(); ++p) mean += images.image(i)[p];
      mean /= static_cast<double>(spec_.input.size());
      for (int k = 0; k < spec_.num_classes; ++k) {
        const double d = mean - static_cast<double>(k) / (spec_.num_classes - 1);
        m(i, static_cast<std::size_t>(k)) = static_cast<float>(-sharpness_ * d * d);
      }
    }
    softmax_rows(m);
    return m;
  }
  int calls = 0;

 private:
  ModelSpec spec_;
  float sharpness_;
};

}  // namespace fool::testing
