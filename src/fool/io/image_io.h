#pragma once
// Reading images (any format OpenCV's imgcodecs reads) into fool's planar RGB layout, and
// writing 8-bit PNGs atomically.
#include <cstdint>
#include <string>
#include <vector>

#include "fool/core/image.h"

namespace fool {

// Reads an image file: gray stays 1 channel, colour becomes 3 (RGB; alpha dropped), 16-bit is
// scaled to 8-bit. Throws fool::Error naming the file if it is missing or not an image.
Image8 read_image(const std::string& path);

// Images beyond these are refused before their pixels are allocated (a 16384 x 16384 colour image
// is 768 MiB of 8-bit pixels and 3 GiB as the network's floats).
constexpr unsigned kMaxImageSide = 65535;
constexpr std::uint64_t kMaxImagePixels = std::uint64_t{1} << 28;
// True if the bytes start with the PNG signature.
bool is_png(const std::uint8_t* data, std::size_t size);
// Decodes PNG bytes like read_image (gray 1 channel, colour 3, alpha dropped, 16-bit scaled to
// 8); `name` is the file named in errors, which are one line (libpng's own messages never reach stderr).
Image8 decode_png(const std::uint8_t* data, std::size_t size, const std::string& name);
std::vector<std::uint8_t> encode_png(const Image8& image);
void write_png(const std::string& path, const Image8& image);

// Converts between 1 and 3 channels (gray -> RGB copies; RGB -> gray uses ITU-R 601 weights).
Image8 convert_channels(const Image8& image, int channels);
// Resizes with area averaging (shrink) or bilinear interpolation (grow).
Image8 resize_image(const Image8& image, int height, int width);

}  // namespace fool
