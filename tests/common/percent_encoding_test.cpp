#include "tresse/common/percent_encoding.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tresse {
namespace {

TEST(PercentEncodingTest, DecodesEscapesOfEitherCase) {
  EXPECT_EQ(percent_decode("p%40ss%3aw%2Frd%25"), "p@ss:w/rd%");
  EXPECT_EQ(percent_decode("%00x"), std::string("\0x", 2));
  EXPECT_EQ(percent_decode(""), "");
  EXPECT_EQ(percent_decode("plain"), "plain");
}

TEST(PercentEncodingTest, PlusIsASpaceOnlyWhenAsked) {
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("a+b%2B", {.plus_is_space = true}), "a b+");
}

TEST(PercentEncodingTest, RejectsMalformedEscapes) {
  for (const char* bad : {"%", "%4", "a%zz", "%-1", "%+1", "%4g", "x%"}) {
    EXPECT_FALSE(percent_decode(bad).has_value()) << bad;
  }
}

TEST(PercentEncodingTest, HexDigitValues) {
  EXPECT_EQ(hex_digit_value('0'), 0);
  EXPECT_EQ(hex_digit_value('9'), 9);
  EXPECT_EQ(hex_digit_value('a'), 10);
  EXPECT_EQ(hex_digit_value('F'), 15);
  EXPECT_EQ(hex_digit_value('g'), -1);
  EXPECT_EQ(hex_digit_value('/'), -1);
}

}  // namespace
}  // namespace tresse
