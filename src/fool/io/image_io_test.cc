// Conversions between OpenCV's interleaved BGR matrices and fool's planar RGB images: pixel by
// pixel as defined, both ways, and through a PNG.
#include "fool/io/image_io.h"

#include <gtest/gtest.h>

#include "fool/io/opencv_image.h"

namespace fool {
namespace {

Image8 pattern(int channels, int height, int width) {
  Image8 img{{channels, height, width}, {}};
  img.pixels.resize(img.shape.size());
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>((i * 37 + 11) % 251);
  return img;
}

TEST(ImageIo, PlanarRgbAndInterleavedBgrConvertPixelByPixelBothWays) {
  for (int channels : {1, 3}) {
    const Image8 img = pattern(channels, 13, 17);
    const cv::Mat m = mat_from_image(img);
    ASSERT_EQ(m.channels(), channels);
    ASSERT_EQ(m.rows, 13);
    ASSERT_EQ(m.cols, 17);
    const std::size_t plane = 13 * 17;
    for (int y = 0; y < 13; ++y)
      for (int x = 0; x < 17; ++x)
        for (int c = 0; c < channels; ++c) {
          const int planar = channels == 3 ? 2 - c : c;  // OpenCV's B is fool's third plane
          ASSERT_EQ(m.ptr<std::uint8_t>(y)[x * channels + c],
                    img.pixels[static_cast<std::size_t>(planar) * plane + static_cast<std::size_t>(y * 17 + x)]);
        }
    const Image8 back = image_from_mat(m);
    EXPECT_EQ(back.shape.channels, channels);
    EXPECT_EQ(back.pixels, img.pixels);
    // A view into a larger matrix (rows not contiguous) converts the same.
    cv::Mat big(20, 30, m.type(), cv::Scalar::all(7));
    m.copyTo(big(cv::Rect(5, 3, 17, 13)));
    EXPECT_EQ(image_from_mat(big(cv::Rect(5, 3, 17, 13))).pixels, img.pixels);
    const auto png = encode_png(img);
    EXPECT_EQ(decode_png(png.data(), png.size(), "t.png").pixels, img.pixels);
  }
}

}  // namespace
}  // namespace fool
