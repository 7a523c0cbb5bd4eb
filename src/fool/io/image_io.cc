#include "fool/io/image_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>

#include "fool/core/error.h"
#include "fool/io/files.h"
#include "fool/io/opencv_image.h"

namespace fool {
// Interleaved (OpenCV, BGR) <-> planar (fool, RGB).
Image8 image_from_mat(const cv::Mat& m) {
  if (m.depth() != CV_8U) throw Error("image_from_mat: not an 8-bit image");
  Image8 out;
  out.shape = {m.channels(), m.rows, m.cols};
  out.pixels.resize(out.shape.size());
  // Interleaved channels to planes in one vectorised pass: OpenCV writes into the planes given,
  // which have the right size and type already (BGR becomes the R, G, B planes).
  const std::size_t plane = static_cast<std::size_t>(m.rows) * static_cast<std::size_t>(m.cols);
  std::vector<cv::Mat> planes;
  for (int c = 0; c < m.channels(); ++c) {
    const int dst = m.channels() == 3 ? 2 - c : c;
    planes.emplace_back(m.rows, m.cols, CV_8UC1, out.pixels.data() + static_cast<std::size_t>(dst) * plane);
  }
  cv::split(m, planes.data());
  return out;
}

cv::Mat mat_from_image(const Image8& img) {
  const auto& s = img.shape;
  auto* data = const_cast<std::uint8_t*>(img.pixels.data());  // read only: the headers are inputs
  if (s.channels == 3) {
    const std::size_t plane = static_cast<std::size_t>(s.height) * static_cast<std::size_t>(s.width);
    const std::vector<cv::Mat> planes = {cv::Mat(s.height, s.width, CV_8UC1, data + 2 * plane),
                                         cv::Mat(s.height, s.width, CV_8UC1, data + plane),
                                         cv::Mat(s.height, s.width, CV_8UC1, data)};
    cv::Mat m;
    cv::merge(planes, m);
    return m;
  }
  return cv::Mat(s.height, s.width, CV_8UC1, data).clone();
}

Image8 read_image(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such image file");
  const auto bytes = read_file(path, std::uint64_t{1} << 30);  // a FIFO or device is refused there
  if (is_png(bytes.data(), bytes.size())) return decode_png(bytes.data(), bytes.size(), path);
  // Other formats through OpenCV; its exceptions (e.g. an image too large for it) become one line.
  cv::Mat m;
  try {
    m = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  } catch (const std::exception&) {
    m = cv::Mat();
  }
  if (m.empty()) throw Error(path + ": not a readable image");
  if (static_cast<std::uint64_t>(m.rows) * static_cast<std::uint64_t>(m.cols) > kMaxImagePixels) {
    throw Error(path + ": image is " + std::to_string(m.cols) + "x" + std::to_string(m.rows) +
                ", more pixels than fool reads");
  }
  if (m.depth() == CV_16U) m.convertTo(m, CV_8U, 1.0 / 257.0);
  if (m.depth() != CV_8U) throw Error(path + ": unsupported pixel depth (need 8 or 16 bit)");
  if (m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2BGR);
  if (m.channels() == 2) throw Error(path + ": gray+alpha images are not supported");
  return image_from_mat(m);
}

std::vector<std::uint8_t> encode_png(const Image8& image) {
  std::vector<std::uint8_t> buf;
  if (!cv::imencode(".png", mat_from_image(image), buf)) throw Error("PNG encoding failed");
  return buf;
}

void write_png(const std::string& path, const Image8& image) {
  const auto buf = encode_png(image);
  write_file_atomic(path, buf.data(), buf.size());
}

Image8 convert_channels(const Image8& image, int channels) {
  if (image.shape.channels == channels) return image;
  if (channels != 1 && channels != 3) throw Error("images have 1 or 3 channels, not " + std::to_string(channels));
  cv::Mat m = mat_from_image(image), out;
  cv::cvtColor(m, out, channels == 3 ? cv::COLOR_GRAY2BGR : cv::COLOR_BGR2GRAY);
  return image_from_mat(out);
}

Image8 resize_image(const Image8& image, int height, int width) {
  if (image.shape.height == height && image.shape.width == width) return image;
  cv::Mat out;
  const bool shrink = height < image.shape.height || width < image.shape.width;
  cv::resize(mat_from_image(image), out, cv::Size(width, height), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (out.channels() != image.shape.channels) out = out.reshape(image.shape.channels);
  return image_from_mat(out);
}

}  // namespace fool
