#include "server/openai_request.hpp"

#include <gtest/gtest.h>

namespace rbees::server {
namespace {

TEST(UnknownFields, OpenAiEndpointsRefuseWhatTheyDoNotImplement) {
  auto chat = parse_chat_completion_request(
      R"({"messages":[{"role":"user","content":"hi"}],"tools":42,"tool_choice":"auto","frobnicate":true,"user":"u1"})");
  ASSERT_EQ(chat.errors.size(), 2u);
  EXPECT_EQ(chat.errors[0].field, "tools");
  EXPECT_EQ(chat.errors[0].constraint, "type(array)");
  EXPECT_EQ(chat.errors[1].field, "frobnicate");
  EXPECT_EQ(chat.errors[1].constraint, "unknown_field");
  EXPECT_EQ(chat.errors[1].message, "Unrecognized request argument supplied: frobnicate");
  auto completion = parse_completion_request(R"({"prompt":"x","suffix":"y","max_completion_tokens":3})");
  ASSERT_EQ(completion.errors.size(), 2u);
  EXPECT_EQ(completion.errors[0].field, "max_completion_tokens");
  EXPECT_EQ(completion.errors[1].field, "suffix");
}

TEST(UnknownFields, StreamOptionsTakeIncludeUsageOnly) {
  auto r = parse_completion_request(R"({"prompt":"x","stream":true,"stream_options":{"include_usage":true,"x":1}})");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "stream_options.x");
  EXPECT_EQ(r.errors[0].constraint, "unknown_field");
}

TEST(UnknownFields, MessagesKeepTheirNameAndToolFieldsOnTheirRoles) {
  auto ok = parse_chat_completion_request(R"({"messages":[{"role":"user","name":"Pierre","content":"hi"}]})");
  ASSERT_TRUE(ok.ok());
  const auto& m = std::get<engine::ChatPrompt>(ok.value->prompts.at(0)).messages;
  EXPECT_EQ(m[0]["name"], "Pierre");
  auto bad = parse_chat_completion_request(
      R"({"messages":[{"role":"user","content":"","tool_calls":[]},{"role":"assistant","tool_call_id":"1","content":"x"},
        {"role":"assistant","content":"","function_call":{"name":"f"}}]})");
  ASSERT_EQ(bad.errors.size(), 3u);
  EXPECT_EQ(bad.errors[0].field, "messages[0].tool_calls");
  EXPECT_EQ(bad.errors[1].field, "messages[1].tool_call_id");
  EXPECT_EQ(bad.errors[2].field, "messages[2].function_call");
}

TEST(UnknownFields, EveryImplementedFieldIsAccepted) {
  const auto chat = parse_chat_completion_request(
      R"({"messages":[{"role":"user","content":"hi"}],"model":"m","n":1,"temperature":0.5,"top_p":0.9,"top_k":4,
          "min_p":0.1,"repetition_penalty":1.1,"presence_penalty":0.1,"frequency_penalty":0.1,"seed":3,"logit_bias":{},
          "stop":["x"],"stream":true,"stream_options":{"include_usage":true},"ignore_eos":false,"max_tokens":4,
          "max_completion_tokens":4,"logprobs":true,"top_logprobs":2,"response_format":{"type":"text"},"user":"u",
          "tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{},"strict":true}}],
          "tool_choice":"auto","parallel_tool_calls":true})");
  EXPECT_TRUE(chat.ok()) << chat.errors[0].field;
  const auto completion = parse_completion_request(
      R"({"prompt":"x","echo":true,"best_of":1,"logprobs":2,"grammar":"root ::= \"a\"","max_tokens":3})");
  EXPECT_TRUE(completion.ok()) << completion.errors[0].field;
}

}  // namespace
}  // namespace rbees::server
