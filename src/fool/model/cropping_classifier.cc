#include "fool/model/cropping_classifier.h"

#include <algorithm>

#include "fool/core/error.h"

namespace fool {

namespace {
// Scores every call in chunks of a fixed size (see make_chunking_classifier).
class ChunkingClassifier : public Classifier {
 public:
  ChunkingClassifier(std::shared_ptr<Classifier> inner, std::size_t chunk) : inner_(std::move(inner)), chunk_(chunk) {}
  const ModelSpec& spec() const override { return inner_->spec(); }
  Backend backend() const override { return inner_->backend(); }
  Matrix probabilities(const ImageBatch& images) override { return score_in_chunks(*inner_, images, chunk_); }

 private:
  std::shared_ptr<Classifier> inner_;
  std::size_t chunk_;
};
}  // namespace

std::unique_ptr<Classifier> make_chunking_classifier(std::shared_ptr<Classifier> inner, std::size_t chunk) {
  return std::make_unique<ChunkingClassifier>(std::move(inner), chunk);
}

std::vector<Crop> crop_layout(const ImageShape& image, const ImageShape& crop, int crops) {
  const int dy = image.height - crop.height, dx = image.width - crop.width;
  if (dy < 0 || dx < 0) throw Error("images of " + image.str() + " are smaller than the model's input " + crop.str());
  const Crop centre{dy / 2, dx / 2, false};
  if (crops == 1) return {centre};
  if (crops != 10) throw Error("crops must be 1 or 10, not " + std::to_string(crops));
  std::vector<Crop> out;
  for (bool mirrored : {false, true}) {
    for (const auto& c : {Crop{0, 0, false}, Crop{0, dx, false}, Crop{dy, 0, false}, Crop{dy, dx, false}, centre}) {
      out.push_back({c.top, c.left, mirrored});
    }
  }
  return out;
}

namespace {

class CroppingClassifier : public Classifier {
 public:
  CroppingClassifier(std::shared_ptr<Classifier> inner, ImageShape image, int crops, std::size_t chunk)
      : inner_(std::move(inner)), spec_(inner_->spec()), chunk_(chunk) {
    if (image.channels != spec_.input.channels && !(image.channels == 1 && spec_.input.channels == 3)) {
      throw Error("images have " + std::to_string(image.channels) + " channels, the model takes " +
                  std::to_string(spec_.input.channels));
    }
    crop_shape_ = spec_.input;
    layout_ = crop_layout(image, crop_shape_, crops);
    spec_.input = image;
  }

  const ModelSpec& spec() const override { return spec_; }
  Backend backend() const override { return inner_->backend(); }

  Matrix probabilities(const ImageBatch& images) override {
    check_batch_shape(spec_, images);
    const std::size_t n = images.size(), k = layout_.size();
    const auto K = static_cast<std::size_t>(spec_.num_classes);
    Matrix mean(n, K);
    // Crop, score and accumulate a few images at a time to bound memory.
    const std::size_t per_call = std::max<std::size_t>(1, chunk_ / k);
    for (std::size_t b = 0; b < n; b += per_call) {
      const std::size_t e = std::min(n, b + per_call);
      ImageBatch crops((e - b) * k, crop_shape_);
      for (std::size_t i = b; i < e; ++i)
        for (std::size_t c = 0; c < k; ++c) cut(images, i, layout_[c], crops.image((i - b) * k + c));
      const Matrix p = inner_->probabilities(crops);
      for (std::size_t i = b; i < e; ++i)
        for (std::size_t c = 0; c < k; ++c)
          for (std::size_t j = 0; j < K; ++j) mean(i, j) += p((i - b) * k + c, j) / static_cast<float>(k);
    }
    return mean;
  }

 private:
  void cut(const ImageBatch& images, std::size_t i, const Crop& c, float* out) const {
    const ImageShape& s = spec_.input;
    const float* src = images.image(i);
    for (int ch = 0; ch < crop_shape_.channels; ++ch)
      for (int y = 0; y < crop_shape_.height; ++y) {
        const auto src_ch = static_cast<std::size_t>(s.channels == 1 ? 0 : ch);  // gray images feed every channel
        const float* row = src +
                           (src_ch * static_cast<std::size_t>(s.height) + static_cast<std::size_t>(c.top + y)) *
                               static_cast<std::size_t>(s.width) +
                           static_cast<std::size_t>(c.left);
        float* dst =
            out + (static_cast<std::size_t>(ch) * crop_shape_.height + static_cast<std::size_t>(y)) * crop_shape_.width;
        if (c.mirrored) {
          for (int x = 0; x < crop_shape_.width; ++x) dst[x] = row[crop_shape_.width - 1 - x];
        } else {
          std::copy(row, row + crop_shape_.width, dst);
        }
      }
  }

  std::shared_ptr<Classifier> inner_;
  ModelSpec spec_;
  ImageShape crop_shape_;
  std::vector<Crop> layout_;
  std::size_t chunk_;
};

}  // namespace

std::unique_ptr<Classifier> make_cropping_classifier(std::shared_ptr<Classifier> inner, ImageShape image, int crops,
                                                     std::size_t chunk) {
  return std::make_unique<CroppingClassifier>(std::move(inner), image, crops, chunk);
}

}  // namespace fool
