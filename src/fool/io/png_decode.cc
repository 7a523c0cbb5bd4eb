// PNG decoding with libpng directly (not through OpenCV): libpng's own messages go to our handlers,
// not stderr, so a damaged file is one line naming it, and the image size is checked before any
// pixel memory is allocated.
#include <png.h>

#include <csetjmp>
#include <cstring>

#include "fool/core/error.h"
#include "fool/core/limits.h"
#include "fool/io/image_io.h"

namespace fool {

namespace {

struct Reader {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos;
  std::string why;  // libpng's error message, kept for our one line
};

void on_error(png_structp png, png_const_charp msg) {
  auto* r = static_cast<Reader*>(png_get_error_ptr(png));
  r->why = msg != nullptr ? msg : "unknown libpng error";
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // damaged ancillary chunks are not worth a line

void on_read(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (n > r->size - r->pos) png_error(png, "file ends early");
  std::memcpy(out, r->data + r->pos, n);
  r->pos += n;
}

}  // namespace

bool is_png(const std::uint8_t* data, std::size_t size) { return size >= 8 && png_sig_cmp(data, 0, 8) == 0; }

namespace {

// libpng's interleaved rows (8- or 16-bit samples, rows row_bytes apart) as planar C x H x W bytes;
// 16-bit samples round to the nearest 8-bit value, as 16 -> 8 bit scaling does.
std::vector<std::uint8_t> planar_pixels(const std::vector<std::uint8_t>& buffer, std::size_t row_bytes,
                                        const ImageShape& shape, int depth) {
  const auto w = static_cast<std::size_t>(shape.width), h = static_cast<std::size_t>(shape.height),
             c = static_cast<std::size_t>(shape.channels);
  std::vector<std::uint8_t> pixels(shape.size());
  const std::size_t plane = w * h;
  for (std::size_t y = 0; y < h; ++y) {
    const std::uint8_t* row = buffer.data() + y * row_bytes;
    for (std::size_t x = 0; x < w; ++x)
      for (std::size_t k = 0; k < c; ++k) {
        std::uint8_t v;
        if (depth == 16) {
          std::uint16_t s;
          std::memcpy(&s, row + 2 * (x * c + k), 2);
          v = static_cast<std::uint8_t>((s + 128) / 257);
        } else {
          v = row[x * c + k];
        }
        pixels[k * plane + y * w + x] = v;
      }
  }
  return pixels;
}

}  // namespace

Image8 decode_png(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (!is_png(data, size)) throw Error(name + ": not a PNG file");
  Reader reader{data, size, 0, ""};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, on_error, on_warning);
  if (png == nullptr) throw Error(name + ": cannot start the PNG decoder");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    throw Error(name + ": cannot start the PNG decoder");
  }
  // Everything libpng allocates, and everything we allocate below, is released on both paths:
  // the Image8 and the row pointers live outside the setjmp frame.
  Image8 img;
  std::vector<std::uint8_t> buffer;
  std::vector<png_bytep> rows;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(name + ": damaged PNG (" + reader.why + ")");
  }
  png_set_read_fn(png, &reader, on_read);
  png_set_user_limits(png, kMaxImageSide, kMaxImageSide);
  png_set_chunk_malloc_max(png, 8u << 20);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  const int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_GRAY_ALPHA || (color == PNG_COLOR_TYPE_GRAY && png_get_valid(png, info, PNG_INFO_tRNS))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(name + ": gray+alpha images are not supported");
  }
  if (static_cast<std::uint64_t>(width) * height > kMaxImagePixels) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(name + ": image is " + std::to_string(width) + "x" + std::to_string(height) +
                ", more pixels than fool reads (" + std::to_string(kMaxImagePixels) + ")");
  }
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_alpha(png);            // RGBA and palette transparency: alpha dropped, as before
  if (depth == 16) png_set_swap(png);  // host-order 16-bit samples
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  const int out_depth = png_get_bit_depth(png, info);
  if ((channels != 1 && channels != 3) || (out_depth != 8 && out_depth != 16)) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(name + ": unsupported PNG layout (" + std::to_string(channels) + " channels of " +
                std::to_string(out_depth) + " bits)");
  }
  const std::size_t h = height;
  const std::size_t row_bytes = png_get_rowbytes(png, info);
  buffer.resize(row_bytes * h);
  rows.resize(h);
  for (std::size_t y = 0; y < h; ++y) rows[y] = buffer.data() + y * row_bytes;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);

  img.shape = {channels, static_cast<int>(height), static_cast<int>(width)};
  img.pixels = planar_pixels(buffer, row_bytes, img.shape, out_depth);
  return img;
}

}  // namespace fool
