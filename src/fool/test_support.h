#pragma once
// Helpers shared by the unit tests: where the shared ONNX fixtures are, and reading them.
#include <cstdlib>
#include <string>
#include <vector>

#include "fool/files.h"

namespace fool::testing {

inline std::string fixtures_dir() {
  if (const char* env = std::getenv("FOOL_FIXTURES_DIR"); env != nullptr && *env != '\0') return env;
  return FOOL_FIXTURES_DIR;
}

inline std::vector<float> read_f32(const std::string& path) {
  const auto bytes = read_file(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.begin() + static_cast<long>(out.size() * sizeof(float)),
            reinterpret_cast<std::uint8_t*>(out.data()));
  return out;
}

}  // namespace fool::testing
