// Path segments as clients percent-encode them.
#include "server/percent_decode.hpp"

#include <gtest/gtest.h>

namespace rbees::server {
namespace {

TEST(PercentDecode, DecodesEscapesAndKeepsTheRest) {
  EXPECT_EQ(percent_decode("org%2Fmodel"), "org/model");
  EXPECT_EQ(percent_decode("org%2fmodel"), "org/model");
  EXPECT_EQ(percent_decode("a%20b+c"), "a b+c");  // '+' is a plus sign in a path
  EXPECT_EQ(percent_decode("caf%C3%A9"), "caf\xC3\xA9");
  EXPECT_EQ(percent_decode("plain-name_1.2"), "plain-name_1.2");
}

TEST(PercentDecode, KeepsMalformedEscapes) {
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%4"), "%4");
  EXPECT_EQ(percent_decode("%zz%41"), "%zzA");
  EXPECT_EQ(percent_decode(""), "");
}

}  // namespace
}  // namespace rbees::server
