#include "fool/model/classifier.h"

#include <algorithm>
#include <cmath>

#include "fool/core/error.h"

namespace fool {

const NameTable<ChannelOrder>& channel_order_names() {
  static const NameTable<ChannelOrder> table = {{ChannelOrder::Rgb, "rgb"}, {ChannelOrder::Bgr, "bgr"}};
  return table;
}
std::string channel_order_name(ChannelOrder order) { return name_of(channel_order_names(), order); }
ChannelOrder parse_channel_order(const std::string& name) {
  return parse_name(channel_order_names(), name, "channel order");
}

void check_batch_shape(const ModelSpec& spec, const ImageBatch& images) {
  if (images.shape() != spec.input) {
    throw Error(spec.path + ": model takes " + spec.input.str() + " images, got " + images.shape().str());
  }
}

void preprocess_image(const Preprocessing& pre, const ImageShape& shape, const float* in, float* out) {
  const int c = shape.channels;
  const std::size_t plane = static_cast<std::size_t>(shape.height) * static_cast<std::size_t>(shape.width);
  const bool swap = c == 3 && pre.channel_order == ChannelOrder::Bgr;
  for (int ch = 0; ch < c; ++ch) {
    const int src = swap ? c - 1 - ch : ch;
    const float mean = pre.mean.empty() ? 0.0f : pre.mean[static_cast<std::size_t>(ch)];
    const float inv_std = pre.std.empty() ? 1.0f : 1.0f / pre.std[static_cast<std::size_t>(ch)];
    const float a = pre.scale * inv_std;
    const float b = -mean * inv_std;
    const float* p = in + static_cast<std::size_t>(src) * plane;
    float* q = out + static_cast<std::size_t>(ch) * plane;
    for (std::size_t i = 0; i < plane; ++i) q[i] = p[i] * a + b;
  }
}

Matrix score_in_chunks(Classifier& classifier, const ImageBatch& images, std::size_t chunk) {
  if (chunk == 0 || images.size() <= chunk) return classifier.probabilities(images);
  Matrix out;
  for (std::size_t b = 0; b < images.size(); b += chunk) {
    out.append_rows(classifier.probabilities(images.slice(b, std::min(images.size(), b + chunk))));
  }
  return out;
}

void softmax_rows(Matrix& m) {
  for (std::size_t r = 0; r < m.rows(); ++r) {
    float* row = m.row(r);
    const float mx = *std::max_element(row, row + m.cols());
    double sum = 0.0;
    for (std::size_t c = 0; c < m.cols(); ++c) {
      row[c] = std::exp(row[c] - mx);
      sum += row[c];
    }
    const auto inv = static_cast<float>(1.0 / sum);
    for (std::size_t c = 0; c < m.cols(); ++c) row[c] *= inv;
  }
}

}  // namespace fool
