#pragma once
// Image containers shared by every part of the library. Inside fool an image is always
// C x H x W (planar, channels in RGB order) with values in [0,1]; an 8-bit image is the same
// layout with values 0..255. Models' own preprocessing lives in the Classifier, not here.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fool {

struct ImageShape {
  int channels = 1;
  int height = 0;
  int width = 0;

  std::size_t size() const {
    return static_cast<std::size_t>(channels) * static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  }
  bool operator==(const ImageShape& o) const {
    return channels == o.channels && height == o.height && width == o.width;
  }
  bool operator!=(const ImageShape& o) const { return !(*this == o); }
  std::string str() const;  // "CxHxW"
};

// One 8-bit image: C x H x W bytes, planar, RGB order for three channels.
struct Image8 {
  ImageShape shape;
  std::vector<std::uint8_t> pixels;
};

// A batch of N images of one shape: N x C x H x W floats in [0,1], contiguous, in order.
class ImageBatch {
 public:
  ImageBatch() = default;
  ImageBatch(std::size_t count, ImageShape shape);

  std::size_t size() const { return count_; }
  const ImageShape& shape() const { return shape_; }
  float* image(std::size_t i) { return data_.data() + i * shape_.size(); }
  const float* image(std::size_t i) const { return data_.data() + i * shape_.size(); }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }

  // Stores an 8-bit image as image i (values / 255). Its shape must be the batch's.
  void set(std::size_t i, const Image8& img);
  void set(std::size_t i, const std::uint8_t* pixels);
  // The subset of images [begin, end) as a new batch.
  ImageBatch slice(std::size_t begin, std::size_t end) const;

 private:
  ImageShape shape_;
  std::size_t count_ = 0;
  std::vector<float> data_;
};

// A dense row-major matrix of floats: N x C probabilities, rows in input order.
class Matrix {
 public:
  Matrix() = default;
  Matrix(std::size_t rows, std::size_t cols) : rows_(rows), cols_(cols), data_(rows * cols) {}

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  float& operator()(std::size_t r, std::size_t c) { return data_[r * cols_ + c]; }
  float operator()(std::size_t r, std::size_t c) const { return data_[r * cols_ + c]; }
  float* row(std::size_t r) { return data_.data() + r * cols_; }
  const float* row(std::size_t r) const { return data_.data() + r * cols_; }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }

  // Appends the rows of another matrix with the same number of columns.
  void append_rows(const Matrix& other);

 private:
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::vector<float> data_;
};

// Rounds C x H x W floats in [0,1] to an 8-bit image (values clamped).
Image8 quantize(const float* chw, const ImageShape& shape);

// The classes with the k highest values of one row, highest first (ties: lower index first).
std::vector<int> top_k(const float* row, std::size_t cols, std::size_t k);

}  // namespace fool
