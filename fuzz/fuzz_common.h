#pragma once
// Shared by the libFuzzer targets: a per-process scratch directory for parsers that read files,
// and the rule every target enforces: bad input may throw fool::Error (a one-line message), and
// nothing else: any other exception, crash, leak of sanitizer reports or hang is a finding.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "fool/core/error.h"
#include "fool/io/files.h"

namespace fool::fuzz {

inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("fool_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes the input to scratch()/name and returns the path. Without an fsync: the scratch file
// needs no durability, and an fsync stalled by a busy disk (11 s on the shared machine while other
// sessions wrote) was reported as a hang of the parser (scripts/fuzz.sh 300, 2026-12-02).
inline std::string write_input(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const std::string path = (scratch() / name).string();
  write_file_replace(path, data, size);
  return path;
}

// A one-line error is the expected outcome of a bad input; check it really is one line.
inline void expect_one_line(const Error& e) {
  if (std::string(e.what()).find('\n') != std::string::npos) __builtin_trap();
}

}  // namespace fool::fuzz
