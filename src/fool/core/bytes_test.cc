#include "fool/core/bytes.h"

#include <gtest/gtest.h>

#include <string>

#include "fool/core/error.h"

namespace fool {
namespace {

TEST(Bytes, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string long_msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(long_msg.data(), long_msg.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Bytes, Base64RoundTripsEveryLengthAndRejectsForeignCharacters) {
  std::vector<std::uint8_t> bytes;
  for (int n = 0; n < 10; ++n) {
    EXPECT_EQ(base64_decode(base64_encode(bytes.data(), bytes.size())), bytes) << n;
    bytes.push_back(static_cast<std::uint8_t>(n * 37 + 200));
  }
  const std::uint8_t abc[] = {'a', 'b', 'c'};
  EXPECT_EQ(base64_encode(abc, 3), "YWJj");
  EXPECT_THROW(base64_decode("YW*j"), Error);
}

}  // namespace
}  // namespace fool
