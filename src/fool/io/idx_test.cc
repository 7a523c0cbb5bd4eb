#include "fool/io/idx.h"

#include <gtest/gtest.h>
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

}  // namespace
}  // namespace fool
