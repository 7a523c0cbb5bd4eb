// PNG decoding (libpng through fool's decoder).
#include "fool/io/image_io.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    fool::decode_png(data, size, "fuzz.png");
  } catch (const fool::Error& e) {
    fool::fuzz::expect_one_line(e);
  }
  return 0;
}
