#include "fool/io/idx.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>

#include "fool/core/error.h"
#include "fool/io/files.h"

namespace fool {
namespace {

IdxArray sample() {
  IdxArray a;
  a.dims = {3, 2, 2};
  for (int i = 0; i < 12; ++i) a.data.push_back(static_cast<std::uint8_t>(i * 20));
  return a;
}

std::string message_of(const std::vector<std::uint8_t>& bytes) {
  try {
    parse_idx(bytes, "x.idx");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Idx, RoundTrip) {
  const IdxArray a = sample();
  const IdxArray b = parse_idx(encode_idx(a), "mem");
  EXPECT_EQ(a.dims, b.dims);
  EXPECT_EQ(a.data, b.data);
}

TEST(Idx, RejectsBadMagic) {
  auto bytes = encode_idx(sample());
  bytes[0] = 0x1f;
  EXPECT_NE(message_of(bytes).find("bad magic"), std::string::npos);
}

TEST(Idx, RejectsOtherElementTypes) {
  auto bytes = encode_idx(sample());
  bytes[2] = 0x0D;  // float
  EXPECT_NE(message_of(bytes).find("element type"), std::string::npos);
}

TEST(Idx, RejectsTruncatedAndOverlongData) {
  auto bytes = encode_idx(sample());
  auto short_bytes = bytes;
  short_bytes.pop_back();
  EXPECT_NE(message_of(short_bytes).find("truncated"), std::string::npos);
  auto long_bytes = bytes;
  long_bytes.push_back(0);
  EXPECT_NE(message_of(long_bytes).find("past the size"), std::string::npos);
  EXPECT_NE(message_of({0, 0, 8, 3, 0}).find("truncated IDX header"), std::string::npos);
  EXPECT_NE(message_of({0, 0}).find("too short"), std::string::npos);
}

TEST(Idx, ReadsPlainAndGzippedFiles) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "fool_idx_test";
  fs::create_directories(dir);
  const IdxArray a = sample();
  write_idx((dir / "plain").string(), a);
  const auto bytes = encode_idx(a);
  gzFile f = gzopen((dir / "packed.gz").string().c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  EXPECT_EQ(read_idx((dir / "plain").string()).data, a.data);
  EXPECT_EQ(read_idx((dir / "packed.gz").string()).data, a.data);
  // A gzip file cut short is corrupt, not silently short.
  auto gz = read_file((dir / "packed.gz").string());
  gz.resize(gz.size() / 2);
  write_file_atomic((dir / "cut.gz").string(), gz.data(), gz.size());
  EXPECT_THROW(read_idx((dir / "cut.gz").string()), Error);
  EXPECT_THROW(read_idx((dir / "missing").string()), Error);
  fs::remove_all(dir);
}

// Issue 20: a 5 MB .gz inflating to gigabytes was inflated before its header was checked; a header
// of 4 x 2^31 x 2^31 wrapped to 0 bytes and was accepted.
TEST(Idx, GzipIsInflatedNoFurtherThanTheHeaderDeclares) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("fool_idx_bomb_" + std::to_string(::getpid()) + ".gz")).string();
  gzFile f = gzopen(path.c_str(), "wb9");
  ASSERT_NE(f, nullptr);
  const std::vector<std::uint8_t> header = {0, 0, 8, 1, 0, 0, 0, 4};  // 4 bytes declared
  gzwrite(f, header.data(), static_cast<unsigned>(header.size()));
  const std::vector<std::uint8_t> zeros(1 << 20, 0);
  for (int i = 0; i < 64; ++i) gzwrite(f, zeros.data(), static_cast<unsigned>(zeros.size()));  // 64 MiB inflated
  gzclose(f);
  EXPECT_LT(std::filesystem::file_size(path), 1u << 20);
  try {
    read_idx(path);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    // One byte past the 4 declared: reading stopped there, not at the end of the 64 MiB.
    EXPECT_NE(std::string(e.what()).find("has 1 bytes past the size in its header"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Idx, HeaderSizesThatOverflowAreNotZero) {
  // 4 x 2^31 x 2^31 = 2^64 bytes: wrapped to 0 in 64 bits, and then "matched" an empty body.
  const std::vector<std::uint8_t> bytes = {0, 0, 8, 3, 0, 0, 0, 4, 0x80, 0, 0, 0, 0x80, 0, 0, 0};
  EXPECT_NE(message_of(bytes).find("truncated"), std::string::npos) << message_of(bytes);
}

TEST(Idx, FifosAndDevicesAreRefused) {
  try {
    read_idx("/dev/zero");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a device"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fool
