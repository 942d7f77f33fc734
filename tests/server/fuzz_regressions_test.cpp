// Request bodies found by fuzz/request_body_fuzz that once escaped the parsers as exceptions; each
// must now come back as a validation error.

#include <gtest/gtest.h>

#include <string>

#include "server/execute_request.hpp"
#include "server/openai_request.hpp"
#include "server/validation.hpp"

namespace rbees::server {
namespace {

// nlohmann::json reports a number beyond double's range as out_of_range, not parse_error.
TEST(ServerFuzzRegressions, NumberOutOfDoubleRangeIsMalformedJson) {
  const std::string body = R"({"job_id": "a", "prompt": "x", "max_tokens": 1e400})";
  for (const auto& errors : {parse_execute_request(body).errors, parse_cancel_request(body).errors,
                             parse_completion_request(body).errors, parse_chat_completion_request(body).errors,
                             parse_tokenize_request(body).errors, parse_detokenize_request(body).errors}) {
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].field, "body");
    EXPECT_EQ(errors[0].constraint, "json");
  }
}

// The parser's message quoted the invalid byte, so rendering the 400 body threw
// (request_body_fuzz, crash-df60e0ad).
TEST(ServerFuzzRegressions, InvalidUtf8BodyRendersAnErrorBody) {
  const std::string body = "{\xa2job_id\":\"job-1\"}";
  const auto parsed = parse_execute_request(body);
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_EQ(parsed.errors[0].constraint, "json");
  EXPECT_NO_THROW(worker_error_body(parsed.errors).dump());
  EXPECT_NO_THROW(openai_error_body(parsed.errors).dump());
}

}  // namespace
}  // namespace rbees::server
