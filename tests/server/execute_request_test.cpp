#include "server/execute_request.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace rbees::server {
namespace {

using nlohmann::json;

// field -> constraint, for comparing error lists regardless of order.
std::set<std::pair<std::string, std::string>> violations(const FieldErrors& errors) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& e : errors) out.insert({e.field, e.constraint});
  return out;
}

TEST(ExecuteRequest, MinimalBodyGetsProtocolDefaults) {
  auto r = parse_execute_request(R"({"job_id":"j1","prompt":"Hello"})");
  ASSERT_TRUE(r.ok());
  const auto& req = *r.value;
  EXPECT_EQ(req.job_id, "j1");
  ASSERT_TRUE(std::holds_alternative<engine::TextPrompt>(req.prompt));
  EXPECT_EQ(std::get<engine::TextPrompt>(req.prompt).text, "Hello");
  EXPECT_TRUE(std::get<engine::TextPrompt>(req.prompt).add_special);
  EXPECT_EQ(req.max_tokens, 256);
  EXPECT_FLOAT_EQ(req.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(req.sampling.top_p, 1.0f);
  EXPECT_EQ(req.sampling.top_k, 0);
  EXPECT_FLOAT_EQ(req.sampling.repetition_penalty, 1.0f);
  EXPECT_FLOAT_EQ(req.sampling.min_p, 0.0f);
  EXPECT_FALSE(req.sampling.seed);
  EXPECT_TRUE(req.stop.empty());
}

TEST(ExecuteRequest, AllFieldsAtTheirLimits) {
  json body = {{"job_id", "x"},
               {"prompt", std::string(32768, 'a')},
               {"max_tokens", 2048},
               {"temperature", 2.0},
               {"seed", 18446744073709551615ull},
               {"top_p", 0},
               {"top_k", 40},
               {"repetition_penalty", 2},
               {"min_p", 1},
               {"stop", {"a", std::string(100, 'b'), "c", "d"}}};
  auto r = parse_execute_request(body.dump());
  ASSERT_TRUE(r.ok()) << worker_error_body(r.errors).dump();
  EXPECT_EQ(r.value->max_tokens, 2048);
  EXPECT_EQ(*r.value->sampling.seed, 18446744073709551615ull);
  EXPECT_EQ(r.value->sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r.value->sampling.repetition_penalty, 2.0f);
  EXPECT_EQ(r.value->stop.size(), 4u);
}

TEST(ExecuteRequest, PromptLengthCountsCodePointsNotBytes) {
  std::string prompt;
  for (int i = 0; i < 32768; ++i) prompt += "é";  // 2 bytes each
  EXPECT_TRUE(parse_execute_request(json{{"job_id", "j"}, {"prompt", prompt}}.dump()).ok());
  prompt += "é";
  auto r = parse_execute_request(json{{"job_id", "j"}, {"prompt", prompt}}.dump());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "prompt");
  EXPECT_EQ(r.errors[0].constraint, "length(1..=32768)");
  EXPECT_FALSE(r.errors[0].value);  // long text is never echoed
}

TEST(ExecuteRequest, EveryViolationIsReportedAtOnce) {
  json body = {{"job_id", ""},    {"prompt", ""},
               {"max_tokens", 0}, {"temperature", 2.5},
               {"seed", -1},      {"top_p", 1.5},
               {"top_k", -1},     {"repetition_penalty", 0},
               {"min_p", -0.1},   {"stop", {"ok", "", std::string(101, 'x'), 7, "e"}}};
  auto r = parse_execute_request(body.dump());
  EXPECT_FALSE(r.value);
  const std::set<std::pair<std::string, std::string>> expected = {
      {"job_id", "non_empty"},
      {"prompt", "length(1..=32768)"},
      {"max_tokens", "range(1..=2048)"},
      {"temperature", "range(0.0..=2.0)"},
      {"seed", "type(u64)"},
      {"top_p", "range(0.0..=1.0)"},
      {"top_k", "range(0..)"},
      {"repetition_penalty", "range(>0.0..=2.0)"},
      {"min_p", "range(0.0..=1.0)"},
      {"stop", "max_count(4)"},
      {"stop[1]", "min_length(1)"},
      {"stop[2]", "max_length(100)"},
      {"stop[3]", "type(string)"},
  };
  EXPECT_EQ(violations(r.errors), expected);
  EXPECT_EQ(r.errors.size(), expected.size());
}

TEST(ExecuteRequest, ErrorBodyShape) {
  auto r = parse_execute_request(R"({"prompt":"hi","max_tokens":4096})");
  const json body = worker_error_body(r.errors);
  ASSERT_EQ(body["errors"].size(), 2u);
  EXPECT_EQ(body["errors"][0], (json{{"field", "job_id"}, {"constraint", "required"}, {"message", "is required"}}));
  EXPECT_EQ(body["errors"][1]["field"], "max_tokens");
  EXPECT_EQ(body["errors"][1]["constraint"], "range(1..=2048)");
  EXPECT_EQ(body["errors"][1]["value"], 4096);
  EXPECT_TRUE(body["errors"][1]["message"].is_string());
}

TEST(ExecuteRequest, WrongTypes) {
  auto r = parse_execute_request(
      R"({"job_id":5,"prompt":["a"],"max_tokens":1.5,"temperature":"hot","seed":1.0,"top_k":true,"stop":"x"})");
  const std::set<std::pair<std::string, std::string>> expected = {
      {"job_id", "type(string)"},      {"prompt", "type(string)"}, {"max_tokens", "type(integer)"},
      {"temperature", "type(number)"}, {"seed", "type(u64)"},      {"top_k", "type(integer)"},
      {"stop", "type(array)"}};
  EXPECT_EQ(violations(r.errors), expected);
}

TEST(ExecuteRequest, MalformedJsonAndNonObjectBodies) {
  for (const char* body : {"{", "{\"job_id\": }", "not json"}) {
    auto r = parse_execute_request(body);
    ASSERT_EQ(r.errors.size(), 1u) << body;
    EXPECT_EQ(r.errors[0].field, "body");
    EXPECT_EQ(r.errors[0].constraint, "json");
  }
  for (const char* body : {"", " \r\n"}) {  // no body at all: said so, not a JSON parser's complaint
    auto r = parse_execute_request(body);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].field, "body");
    EXPECT_EQ(r.errors[0].constraint, "required");
    EXPECT_EQ(r.errors[0].message, "the request has no body: a JSON object is expected");
  }
  {
    auto r = parse_cancel_request("");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].field, "job_id");
    EXPECT_EQ(r.errors[0].constraint, "required");
    EXPECT_NE(r.errors[0].message.find("no body"), std::string::npos) << r.errors[0].message;
  }
  auto r = parse_execute_request("[1,2]");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].constraint, "type(object)");
}

TEST(ExecuteRequest, InvalidUtf8IsABadRequest) {
  auto r = parse_execute_request("{\"job_id\":\"j\",\"prompt\":\"a\xC3\x28\"}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].field, "body");
  auto s = parse_execute_request(R"({"job_id":"j","prompt":"\ud800"})");  // lone surrogate escape
  EXPECT_FALSE(s.ok());
}

TEST(ExecuteRequest, NullMeansAbsent) {
  auto r = parse_execute_request(R"({"job_id":"j","prompt":"p","seed":null,"max_tokens":null})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value->max_tokens, 256);
  EXPECT_FALSE(r.value->sampling.seed);
}

TEST(CancelRequest, Parses) {
  EXPECT_EQ(parse_cancel_request(R"({"job_id":"abc"})").value->job_id, "abc");
  EXPECT_EQ(parse_cancel_request(R"({"job_id":""})").errors[0].constraint, "non_empty");
  EXPECT_EQ(parse_cancel_request(R"({})").errors[0].constraint, "required");
}

}  // namespace
}  // namespace rbees::server
