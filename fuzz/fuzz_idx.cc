// IDX (MNIST container) parsing, plain or gzipped: the bytes in memory, and the same bytes as a file
// (read_idx inflates .gz no further than the header declares).
#include "fool/io/idx.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    fool::parse_idx(std::vector<std::uint8_t>(data, data + size), "fuzz.idx");
  } catch (const fool::Error& e) {
    fool::fuzz::expect_one_line(e);
  }
  try {
    fool::read_idx(fool::fuzz::write_input("fuzz.idx", data, size));
  } catch (const fool::Error& e) {
    fool::fuzz::expect_one_line(e);
  }
  return 0;
}
