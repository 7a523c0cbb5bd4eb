#include "fool/files.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fool/error.h"

namespace fool {
namespace {

namespace fs = std::filesystem;

TEST(Files, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string long_msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(long_msg.data(), long_msg.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

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
