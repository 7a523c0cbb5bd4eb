#include "fool/io/files.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

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
  // The unsynced variant replaces the same way (temporary + rename).
  write_file_replace(path, "third", 5);
  EXPECT_EQ(read_text_file(path), "third");
  EXPECT_THROW(write_file_replace((dir / "no" / "b.txt").string(), "x", 1), Error);
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

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class FilesDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fool_files_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

// Issue 20: a FIFO as summary.json hung the reader; /dev/zero (or a link to it) filled memory.
TEST_F(FilesDir, OnlyRegularFilesAreRead) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0644), 0);
  EXPECT_NE(error_of([&] { read_file(path("fifo")); }).find("named pipe"), std::string::npos);
  EXPECT_NE(error_of([&] { read_json_file(path("fifo")); }).find(path("fifo")), std::string::npos);
  EXPECT_NE(error_of([&] { check_regular_file(path("fifo")); }).find("named pipe"), std::string::npos);
  EXPECT_NE(error_of([] { read_file("/dev/zero"); }).find("/dev/zero: is a device"), std::string::npos);
  fs::create_symlink("/dev/zero", path("zero.json"));
  EXPECT_NE(error_of([&] { read_json_file(path("zero.json")); }).find("is a device"), std::string::npos);
  EXPECT_NE(error_of([&] { read_file(dir_.string()); }).find("is a directory"), std::string::npos);
  // A link to a regular file is followed.
  write_file_atomic(path("real.txt"), std::string("text"));
  fs::create_symlink(path("real.txt"), path("link.txt"));
  EXPECT_EQ(read_text_file(path("link.txt")), "text");
  EXPECT_EQ(check_regular_file(path("link.txt")), 4u);
}

TEST_F(FilesDir, ReadsAreBoundedBeforeReading) {
  write_file_atomic(path("big"), std::string(1000, 'x'));
  EXPECT_NE(error_of([&] { read_file(path("big"), 999); }).find("1000 bytes, more than fool reads"), std::string::npos);
  EXPECT_EQ(read_file(path("big"), 1000).size(), 1000u);
}

// Issue 20: 200,000 nested lists in summary.json overflowed the stack of nlohmann's parser.
TEST_F(FilesDir, JsonNestingIsBoundedBeforeParsing) {
  write_file_atomic(path("deep.json"), std::string(200000, '[') + std::string(200000, ']'));
  const std::string e = error_of([&] { read_json_file(path("deep.json")); });
  EXPECT_NE(e.find("deep.json: not valid JSON (JSON nested deeper than 128 levels)"), std::string::npos) << e;
  EXPECT_TRUE(parse_json_or_discarded(std::string(200000, '{')).is_discarded());
  // Brackets inside strings do not count; fool's own nesting does not come close.
  write_file_atomic(path("ok.json"), "{\"a\": \"" + std::string(1000, '[') + "\\\"\", \"b\": [[[1]]]}");
  EXPECT_EQ(read_json_file(path("ok.json"))["b"][0][0][0], 1);
  const std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_NO_THROW(check_json_depth(at_limit, "x"));
  EXPECT_THROW(check_json_depth("[" + at_limit + "]", "x"), Error);
}

TEST_F(FilesDir, WritesRefuseLinksLeavingTheRoot) {
  fs::create_directories(path("run"));
  fs::create_directories(path("outside"));
  fs::create_directory_symlink(path("outside"), path("run/analysis"));
  const std::string e =
      error_of([&] { write_file_inside(path("run"), path("run/analysis/x.json"), std::string("{}")); });
  EXPECT_NE(e.find("leads outside"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(path("outside/x.json")));
  EXPECT_THROW(create_directories_inside(path("run"), path("run/analysis/sub")), Error);
  fs::create_directories(path("run/inner"));
  fs::create_directory_symlink(path("run/inner"), path("run/images"));
  write_file_inside(path("run"), path("run/images/a.png"), std::string("png"));
  EXPECT_EQ(read_text_file(path("run/inner/a.png")), "png");
  create_directories_inside(path("run"), path("run/new/deeper"));
  EXPECT_TRUE(fs::is_directory(path("run/new/deeper")));
}

TEST_F(FilesDir, WritableDirectoryCheckLeavesNothing) {
  check_writable_directory(dir_.string(), "--out", "m.onnx");
  EXPECT_TRUE(fs::is_empty(dir_));
  const std::string e = error_of([] { check_writable_directory("/proc", "--out", "/proc/m.onnx"); });
  EXPECT_EQ(e.rfind("--out /proc/m.onnx: cannot write in /proc (", 0), 0u) << e;
}

}  // namespace
}  // namespace fool
