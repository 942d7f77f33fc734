#include "server/utf8.hpp"

#include <gtest/gtest.h>

namespace rbees::server {
namespace {

TEST(Utf8, CountsCodePoints) {
  EXPECT_EQ(count_code_points(""), 0u);
  EXPECT_EQ(count_code_points("abc"), 3u);
  EXPECT_EQ(count_code_points("caf\xC3\xA9"), 4u);        // é
  EXPECT_EQ(count_code_points("\xE2\x80\x94"), 1u);       // em dash
  EXPECT_EQ(count_code_points("\xF0\x9F\x98\x80!"), 2u);  // emoji
}

TEST(Utf8, RejectsInvalidSequences) {
  EXPECT_FALSE(count_code_points("\xC3"));              // truncated
  EXPECT_FALSE(count_code_points("\xC3\x28"));          // bad continuation
  EXPECT_FALSE(count_code_points("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(count_code_points("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(count_code_points("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(count_code_points("\x80"));              // lone continuation
  EXPECT_FALSE(count_code_points("\xFF"));
}

}  // namespace
}  // namespace rbees::server
