#include "server/openai_request.hpp"

#include <gtest/gtest.h>

namespace rbees::server {
namespace {

using nlohmann::json;

TEST(CompletionRequest, StringPromptAndSampling) {
  auto r = parse_completion_request(R"({"model":"m","prompt":"Once","max_tokens":16,"temperature":0,
    "top_p":0.9,"seed":-1,"presence_penalty":0.5,"frequency_penalty":-0.5,"logit_bias":{"42":-100,"7":3.5},
    "stop":"\n","logprobs":3,"echo":true,"stream":true,"stream_options":{"include_usage":true},
    "top_k":5,"min_p":0.1,"repetition_penalty":1.1,"ignore_eos":true,"n":1,"user":"u"})");
  ASSERT_TRUE(r.ok()) << openai_error_body(r.errors).dump();
  const auto& o = *r.value;
  EXPECT_EQ(o.model, "m");
  EXPECT_TRUE(o.stream);
  EXPECT_TRUE(o.include_usage);
  const auto& req = o.request;
  ASSERT_EQ(o.prompts.size(), 1u);
  EXPECT_EQ(std::get<engine::TextPrompt>(o.prompts[0]).text, "Once");
  EXPECT_EQ(req.max_tokens, 16);
  EXPECT_FLOAT_EQ(req.sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(req.sampling.top_p, 0.9f);
  EXPECT_EQ(*req.sampling.seed, 0xFFFFFFFFFFFFFFFFull);
  EXPECT_FLOAT_EQ(req.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(req.sampling.frequency_penalty, -0.5f);
  EXPECT_EQ(req.sampling.logit_bias, (std::map<int32_t, float>{{42, -100.0f}, {7, 3.5f}}));
  EXPECT_EQ(req.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(req.logprobs, 3);
  EXPECT_TRUE(req.echo);
  EXPECT_EQ(req.sampling.top_k, 5);
  EXPECT_FLOAT_EQ(req.sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(req.sampling.repetition_penalty, 1.1f);
  EXPECT_TRUE(req.ignore_eos);
}

TEST(CompletionRequest, DefaultsLeaveMaxTokensOpen) {
  auto r = parse_completion_request(R"({"prompt":"x"})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value->request.max_tokens);
  EXPECT_FALSE(r.value->request.logprobs);
  EXPECT_FALSE(r.value->stream);
  EXPECT_FLOAT_EQ(r.value->request.sampling.temperature, 1.0f);
}

TEST(CompletionRequest, TokenPromptForms) {
  auto a = parse_completion_request(R"({"prompt":[1,2,3]})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(std::get<engine::TokenPrompt>(a.value->prompts.at(0)).ids, (std::vector<int32_t>{1, 2, 3}));
  auto b = parse_completion_request(R"({"prompt":[[4,5]]})");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(std::get<engine::TokenPrompt>(b.value->prompts.at(0)).ids, (std::vector<int32_t>{4, 5}));
  auto c = parse_completion_request(R"({"prompt":["text"]})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::get<engine::TextPrompt>(c.value->prompts.at(0)).text, "text");
  auto d = parse_completion_request(R"({"prompt":[1,-2,"x"]})");
  ASSERT_EQ(d.errors.size(), 2u);
  EXPECT_EQ(d.errors[0].field, "prompt[1]");
  EXPECT_EQ(d.errors[1].field, "prompt[2]");
  EXPECT_EQ(parse_completion_request(R"({"prompt":[]})").errors[0].constraint, "non_empty");
  EXPECT_EQ(parse_completion_request(R"({})").errors[0].constraint, "required");
}

TEST(CompletionRequest, ViolationsBecomeOneOpenAiError) {
  auto r = parse_completion_request(
      R"({"prompt":"x","n":0,"logprobs":21,"presence_penalty":3,"logit_bias":{"abc":1,"5":101},"stop":["a","b","c","d","e"]})");
  ASSERT_EQ(r.errors.size(), 6u) << openai_error_body(r.errors).dump();
  const json body = openai_error_body(r.errors);
  const json& e = body["error"];
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["param"], "n");
  EXPECT_EQ(e["code"], "range(1..=1024)");
  const std::string message = e["message"];
  for (const char* field : {"n:", "logprobs:", "presence_penalty:", "logit_bias.abc:", "logit_bias.5:", "stop:"}) {
    EXPECT_NE(message.find(field), std::string::npos) << field << " missing from " << message;
  }
}

TEST(ChatCompletionRequest, MessagesAndLogprobs) {
  auto r = parse_chat_completion_request(R"({"model":"m","messages":[
      {"role":"system","content":"Be brief."},
      {"role":"user","content":[{"type":"text","text":"Hello, "},{"type":"text","text":"there"}]},
      {"role":"assistant","content":null}],
    "logprobs":true,"top_logprobs":2,"max_tokens":10,"max_completion_tokens":12,"stream":false})");
  ASSERT_TRUE(r.ok()) << openai_error_body(r.errors).dump();
  const auto& chat = std::get<engine::ChatPrompt>(r.value->prompts.at(0));
  EXPECT_EQ(chat.messages, nlohmann::ordered_json::parse(R"([{"role":"system","content":"Be brief."},
      {"role":"user","content":"Hello, there"},{"role":"assistant","content":""}])"));
  EXPECT_EQ(r.value->request.logprobs, 2);
  EXPECT_EQ(r.value->request.max_tokens, 12);
}

// A batch of prompts, strings or token-id arrays, each a prompt of its own; n choices of each.
TEST(CompletionRequest, BatchesOfPromptsAndChoices) {
  auto r = parse_completion_request(R"({"prompt":["Pierre","Natasha",""],"n":2,"best_of":2})");
  ASSERT_TRUE(r.ok()) << openai_error_body(r.errors).dump();
  ASSERT_EQ(r.value->prompts.size(), 3u);
  EXPECT_EQ(std::get<engine::TextPrompt>(r.value->prompts[1]).text, "Natasha");
  EXPECT_EQ(r.value->n, 2);
  auto ids = parse_completion_request(R"({"prompt":[[1,2],[3]]})");
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids.value->prompts.size(), 2u);
  EXPECT_EQ(std::get<engine::TokenPrompt>(ids.value->prompts[1]).ids, (std::vector<int32_t>{3}));
  auto bad = parse_completion_request(R"({"prompt":["a",[],7,[1,"x"]],"n":2,"best_of":3})");
  std::vector<std::string> fields;
  for (const auto& e : bad.errors) fields.push_back(e.field + " " + e.constraint);
  EXPECT_EQ(fields, (std::vector<std::string>{"prompt[1] non_empty", "prompt[2] type(string or array)",
                                              "prompt[3][1] type(integer)", "best_of equals(n)"}));
}

// Roles outside OpenAI's are refused, naming the message; continuing the last message needs it to
// be the assistant's and no generation prompt.
TEST(ChatCompletionRequest, RolesAndContinuingTheFinalMessage) {
  auto wizard =
      parse_chat_completion_request(R"({"messages":[{"role":"user","content":"a"},{"role":"wizard","content":"b"}]})");
  ASSERT_EQ(wizard.errors.size(), 1u);
  EXPECT_EQ(wizard.errors[0].field, "messages[1].role");
  auto cont = parse_chat_completion_request(
      R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],"continue_final_message":true})");
  ASSERT_TRUE(cont.ok());
  const auto& chat = std::get<engine::ChatPrompt>(cont.value->prompts.at(0));
  EXPECT_TRUE(chat.continue_final_message);
  EXPECT_FALSE(chat.add_generation_prompt);
  auto both = parse_chat_completion_request(
      R"({"messages":[{"role":"assistant","content":"b"}],"continue_final_message":true,"add_generation_prompt":true})");
  ASSERT_EQ(both.errors.size(), 1u);
  EXPECT_EQ(both.errors[0].field, "add_generation_prompt");
  auto user_last =
      parse_chat_completion_request(R"({"messages":[{"role":"user","content":"a"}],"continue_final_message":true})");
  ASSERT_EQ(user_last.errors.size(), 1u);
  EXPECT_EQ(user_last.errors[0].field, "continue_final_message");
  auto no_prompt =
      parse_chat_completion_request(R"({"messages":[{"role":"user","content":"a"}],"add_generation_prompt":false})");
  ASSERT_TRUE(no_prompt.ok());
  EXPECT_FALSE(std::get<engine::ChatPrompt>(no_prompt.value->prompts.at(0)).add_generation_prompt);
}

TEST(ChatCompletionRequest, LogprobsFalseMeansNone) {
  auto r = parse_chat_completion_request(R"({"messages":[{"role":"user","content":"x"}],"logprobs":false})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value->request.logprobs);
  auto t = parse_chat_completion_request(R"({"messages":[{"role":"user","content":"x"}],"logprobs":true})");
  EXPECT_EQ(t.value->request.logprobs, 0);
}

TEST(ChatCompletionRequest, Violations) {
  auto r = parse_chat_completion_request(R"({"messages":[{"content":"x"},5,{"role":"user",
      "content":[{"type":"image_url","image_url":{}}]}],"top_logprobs":30,"temperature":-1})");
  std::vector<std::string> fields;
  for (const auto& e : r.errors) fields.push_back(e.field + " " + e.constraint);
  EXPECT_EQ(fields, (std::vector<std::string>{"messages[0].role required", "messages[1] type(object)",
                                              "messages[2].content[0] text_part", "temperature range(0.0..=2.0)",
                                              "top_logprobs range(0..=20)", "top_logprobs requires(logprobs)"}));
  EXPECT_EQ(parse_chat_completion_request(R"({"messages":[]})").errors[0].constraint, "non_empty");
}

TEST(TokenizeRequests, Parse) {
  auto t = parse_tokenize_request(R"({"content":"Hi","add_special":true})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value->content, "Hi");
  EXPECT_TRUE(t.value->add_special);
  EXPECT_FALSE(parse_tokenize_request(R"({"content":"Hi"})").value->add_special);
  EXPECT_EQ(parse_tokenize_request(R"({"content":1})").errors[0].constraint, "type(string)");
  auto d = parse_detokenize_request(R"({"tokens":[1,2]})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value->tokens, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(parse_detokenize_request(R"({"tokens":"x"})").errors[0].constraint, "type(array)");
}

}  // namespace
}  // namespace rbees::server
