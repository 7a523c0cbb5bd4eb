// Genome files as `fool render` reads them: decode with the encoding the file names, then render.
#include <nlohmann/json.hpp>

#include "fool/encoding/cppn.h"
#include "fool/encoding/direct_encoding.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fool;
  const auto j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    for (bool raw : {true, false}) {
      CppnOptions o;
      o.raw_coordinates = raw;
      const CppnEncoding cppn(o);
      try {
        cppn.render_at(*cppn.from_json(j), 16, 16);
      } catch (const Error& e) {
        fuzz::expect_one_line(e);
      }
    }
    const DirectEncoding direct{DirectOptions{}};
    direct.render(*direct.from_json(j));
  } catch (const Error& e) {
    fuzz::expect_one_line(e);
  }
  return 0;
}
