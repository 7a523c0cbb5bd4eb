#include "fool/core/image.h"

#include <cmath>

#include <algorithm>
#include <numeric>

#include "fool/core/error.h"

namespace fool {

std::string ImageShape::str() const {
  return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

ImageBatch::ImageBatch(std::size_t count, ImageShape shape)
    : shape_(shape), count_(count), data_(count * shape.size()) {}

void ImageBatch::set(std::size_t i, const Image8& img) {
  if (img.shape != shape_) {
    throw Error("image of shape " + img.shape.str() + " does not fit a batch of " + shape_.str());
  }
  set(i, img.pixels.data());
}

void ImageBatch::set(std::size_t i, const std::uint8_t* pixels) {
  float* out = image(i);
  const std::size_t n = shape_.size();
  for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<float>(pixels[j]) * (1.0f / 255.0f);
}

ImageBatch ImageBatch::slice(std::size_t begin, std::size_t end) const {
  ImageBatch out(end - begin, shape_);
  std::copy(image(begin), image(begin) + (end - begin) * shape_.size(), out.data());
  return out;
}

void Matrix::append_rows(const Matrix& other) {
  if (rows_ == 0 && cols_ == 0) cols_ = other.cols_;
  if (other.cols_ != cols_) throw Error("cannot append rows of a different width");
  data_.insert(data_.end(), other.data_.begin(), other.data_.end());
  rows_ += other.rows_;
}

std::vector<int> top_k(const float* row, std::size_t cols, std::size_t k) {
  std::vector<int> idx(cols);
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, cols);
  std::partial_sort(idx.begin(), idx.begin() + static_cast<long>(k), idx.end(),
                    [row](int a, int b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  idx.resize(k);
  return idx;
}

Image8 quantize(const float* chw, const ImageShape& shape) {
  Image8 out;
  out.shape = shape;
  out.pixels.resize(shape.size());
  for (std::size_t i = 0; i < out.pixels.size(); ++i) {
    const float v = std::round(chw[i] * 255.0f);
    out.pixels[i] = static_cast<std::uint8_t>(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
  }
  return out;
}

}  // namespace fool
