#include "fool/core/class_list.h"

#include <gtest/gtest.h>

#include "fool/core/error.h"

namespace fool {
namespace {

std::string error_of(const std::string& text, const std::vector<std::string>& labels = {}) {
  try {
    parse_class_list(text, labels);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ClassList, IndicesAndRanges) {
  EXPECT_EQ(parse_class_list("0,3,5-7"), (std::vector<int>{0, 3, 5, 6, 7}));
  EXPECT_TRUE(class_list_is_numeric("0,3,5-7"));
  EXPECT_FALSE(class_list_is_numeric("0,cat"));
  EXPECT_NE(error_of("1,1").find("given twice"), std::string::npos);
  EXPECT_NE(error_of("7-3").find("7-3"), std::string::npos);
  EXPECT_NE(error_of("0-2147483647").find("more than"), std::string::npos);
  EXPECT_NE(error_of("cat").find("'cat' is not a class index"), std::string::npos);
}

TEST(ClassList, LabelNamesExactlyAsTheModelHasThem) {
  const std::vector<std::string> labels = {"tench, Tinca tinca", "goldfish", "great white shark", "7", "goldfish x"};
  EXPECT_EQ(parse_class_list("goldfish,0,great white shark", labels), (std::vector<int>{1, 0, 2}));
  EXPECT_EQ(parse_class_list("tench, Tinca tinca", labels), (std::vector<int>{0}));  // a label with a comma, alone
  EXPECT_EQ(parse_class_list("3", labels), (std::vector<int>{3}));                   // an index before a label
  EXPECT_NE(error_of("Goldfish", labels).find("'Goldfish' is not a class index, a range like 3-7 or a label"),
            std::string::npos);  // exact: case matters
  EXPECT_NE(error_of("goldfish,1", labels).find("class 1 is given twice"), std::string::npos);
  EXPECT_NE(error_of("a", {"a", "a"}).find("several classes labelled 'a'"), std::string::npos);
}

}  // namespace
}  // namespace fool
