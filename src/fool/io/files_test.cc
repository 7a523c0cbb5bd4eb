#include "fool/io/files.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fool/core/error.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

TEST(Files, AtomicWriteReplacesAndLeavesNoTemporaries) {
  const fs::path dir = fs::temp_directory_path() / "fool_files_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "a.txt").string();
  write_file_atomic(path, std::string("first"));
  write_file_atomic(path, std::string("second"));
  EXPECT_EQ(read_text_file(path), "second");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(entries, 1);
  fs::remove_all(dir);
}

TEST(Files, ErrorsNameThePath) {
  try {
    read_file("/nonexistent/fool/file.bin");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/fool/file.bin"), std::string::npos);
  }
  EXPECT_THROW(write_file_atomic("/nonexistent/dir/x.txt", std::string("x")), Error);
}

}  // namespace
}  // namespace fool
