#include "fool/core/limits.h"

#include <gtest/gtest.h>

#include "fool/core/error.h"

namespace fool {
namespace {

TEST(MemorySize, ParsesBytesAndBinarySuffixes) {
  EXPECT_EQ(parse_memory_size("4096", "--max-memory"), 4096u);
  EXPECT_EQ(parse_memory_size("1K", "--max-memory"), 1024u);
  EXPECT_EQ(parse_memory_size("512M", "--max-memory"), 512ull << 20);
  EXPECT_EQ(parse_memory_size("8GiB", "--max-memory"), 8ull << 30);
  EXPECT_EQ(parse_memory_size("1.5g", "--max-memory"), 3ull << 29);
  for (const char* bad : {"", "lots", "0", "-1G", "8X", "nan", "inf", "1e30"}) {
    EXPECT_THROW(parse_memory_size(bad, "--max-memory"), Error) << bad;
  }
  EXPECT_EQ(memory_size_text(64), "64 bytes");
  EXPECT_EQ(memory_size_text(3ull << 29), "1.5 GiB");
  EXPECT_GT(available_memory_bytes(), 0u);
  EXPECT_LE(available_memory_bytes(), physical_memory_bytes());
}

}  // namespace
}  // namespace fool
