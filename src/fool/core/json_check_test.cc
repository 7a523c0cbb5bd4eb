#include "fool/core/json_check.h"

#include <gtest/gtest.h>

#include "fool/core/error.h"

namespace fool::json_check {
namespace {

TEST(Utf8, ValidSequencesOnly) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("plain ascii"));
  EXPECT_TRUE(is_utf8("z\xc3\xa9ro \xe2\x82\xac \xf0\x9f\x98\x80"));  // é, €, an emoji
  EXPECT_FALSE(is_utf8("caf\xe9"));                                   // Latin-1
  EXPECT_FALSE(is_utf8("\xc3"));                                      // cut short
  EXPECT_FALSE(is_utf8("\xc0\xaf"));                                  // overlong
  EXPECT_FALSE(is_utf8("\xed\xa0\x80"));                              // a surrogate
  EXPECT_FALSE(is_utf8("\xf4\x90\x80\x80"));                          // beyond U+10FFFF
  try {
    check_utf8("ab\xff", "labels.txt: line 3");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "labels.txt: line 3 is not UTF-8 text (byte 0xff at offset 2)");
  }
}

TEST(Printable, EscapesControlsAndBytesThatAreNotUtf8) {
  EXPECT_EQ(printable("a\nb"), "a\\nb");
  EXPECT_EQ(printable("caf\xe9"), "caf\\xe9");
  EXPECT_EQ(printable("z\xc3\xa9ro"), "z\xc3\xa9ro");
  EXPECT_TRUE(is_utf8(printable("\xff\xfe\xc3")));
}

}  // namespace
}  // namespace fool::json_check
