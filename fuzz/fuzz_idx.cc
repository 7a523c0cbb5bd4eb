// IDX (MNIST container) parsing, plain or gzipped.
#include "fool/io/idx.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    fool::parse_idx(std::vector<std::uint8_t>(data, data + size), "fuzz.idx");
  } catch (const fool::Error& e) {
    fool::fuzz::expect_one_line(e);
  }
  return 0;
}
