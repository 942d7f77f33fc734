// A malformed body's refusal says where and why the parser stopped, quoting only the start of the
// token it stopped in: a body that is one long unclosed string must not come back in the answer.

#include <gtest/gtest.h>

#include <string>

#include "server/execute_request.hpp"
#include "server/validation.hpp"

namespace rbees::server {
namespace {

TEST(MalformedBody, AnUnclosedLongStringIsQuotedByItsStartOnly) {
  const std::string body = "{\"prompt\":\"" + std::string(1 << 20, 'x');
  const auto parsed = parse_execute_request(body);
  ASSERT_EQ(parsed.errors.size(), 1u);
  const std::string& message = parsed.errors[0].message;
  EXPECT_EQ(parsed.errors[0].constraint, "json");
  EXPECT_LT(message.size(), 500u) << message.substr(0, 500);
  EXPECT_NE(message.find("missing closing quote; last read: '\"xxxxxxxx"), std::string::npos) << message;
  EXPECT_EQ(message.substr(message.size() - 4), "...'");
  EXPECT_LT(openai_error_body(parsed.errors).dump().size(), 1000u);
}

TEST(MalformedBody, ANumberTooLongIsQuotedByItsStartOnly) {
  const std::string body = "{\"max_tokens\":" + std::string(1 << 20, '1') + "}";
  const auto parsed = parse_execute_request(body);
  ASSERT_EQ(parsed.errors.size(), 1u);
  const std::string& message = parsed.errors[0].message;
  EXPECT_LT(message.size(), 500u) << message.substr(0, 500);
  EXPECT_NE(message.find("number overflow parsing '1111111111"), std::string::npos) << message;
}

TEST(MalformedBody, ALongTokenKeepsWhatTheParserExpected) {
  // Where a comma or the closing brace belongs, a long string the lexer refuses at its end.
  const std::string body = "{\"prompt\":\"x\" \"" + std::string(4096, 'n') + "\x01\"}";
  const auto parsed = parse_execute_request(body);
  ASSERT_EQ(parsed.errors.size(), 1u);
  const std::string& message = parsed.errors[0].message;
  EXPECT_LT(message.size(), 500u) << message.substr(0, 500);
  EXPECT_NE(message.find("last read: '\"nnnnnnnn"), std::string::npos) << message;
  EXPECT_EQ(message.substr(message.size() - 18), "...'; expected '}'") << message;
}

TEST(MalformedBody, AShortMessageIsKeptWhole) {
  const auto parsed = parse_execute_request("{\"prompt\": tru}");
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_NE(parsed.errors[0].message.find("last read: '\"prompt\": tru}'"), std::string::npos)
      << parsed.errors[0].message;
}

}  // namespace
}  // namespace rbees::server
