#pragma once
// One OpenAI request's response, from its jobs' events: a completion or chat completion streamed
// as `data:` chunks ending with `data: [DONE]`, or collected into one JSON response. The response
// ends when every choice has, or at the first failure.

#include "engine/engine.hpp"
#include "server/reply_format.hpp"
#include "server/tool_call_stream.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rbees::server {

struct OpenAiContext {
  std::string id;  // "cmpl-..." / "chatcmpl-..."
  std::string model;
  int64_t created = 0;  // Unix seconds
  bool chat = false;
  bool stream = false;
  bool include_usage = false;
  std::optional<int32_t> logprobs;
  int n_choices = 1;
  int n_per_prompt = 1;  // usage counts each prompt once, with its first choice
  // Completions with echo: each choice's prompt text, which precedes its generated text (with
  // logprobs, the prompt tokens' log-probabilities precede the generated ones').
  std::vector<std::string> echo_prefixes;
  // Chat with tools (tool_choice other than none): the output is parsed for calls in this syntax.
  chat::ToolCallFormat tool_format = chat::ToolCallFormat::kNone;
  bool parallel_tool_calls = true;
};

// OpenAI's finish_reason for an engine stop reason.
std::string openai_finish_reason(engine::FinishReason reason);

class OpenAiFrames : public ReplyFormat {
 public:
  // The engine names the tokens of logprobs listings; held weakly, as a connection holds it.
  OpenAiFrames(OpenAiContext context, std::weak_ptr<const engine::Engine> engine);

  void add(std::span<const StreamEvent> events, std::string& out) override;
  HttpResponse response() override;

 private:
  struct Choice {
    std::string text;
    nlohmann::json logprobs;  // collected (non-streaming)
    bool sent_role = false;
    std::string finish_reason;
    engine::FinalResult result;
    std::optional<ToolCallStream> tools;  // with tools: the text split into content and calls
    std::string content;                  // with tools: the text outside calls
    std::vector<chat::ToolCall> calls;    // with tools: the calls so far
  };

  void on_prompt_logprobs(size_t index, const std::vector<engine::PromptTokenLogprob>& tokens);
  void on_token(size_t index, const engine::TokenEvent& event);
  void on_finish(size_t index, const engine::FinalResult& result);
  void emit(const nlohmann::json& data);
  void send_role(size_t index);
  // With tools: takes a piece of content and the calls it completed, streaming them (content with
  // the token's log-probabilities) or keeping them for the response.
  void take(size_t index, ToolCallStream::Output out, const nlohmann::json& logprobs);
  nlohmann::json chunk(size_t index, const std::string& text, const nlohmann::json& logprobs,
                       const std::optional<std::string>& finish_reason) const;
  std::string token_text(int32_t id) const;
  nlohmann::json logprob_entries(const engine::TokenEvent& event, size_t text_offset) const;
  void append_logprobs(nlohmann::json& into, const nlohmann::json& entries) const;
  nlohmann::json empty_logprobs() const;
  nlohmann::json usage() const;
  void complete();

  OpenAiContext ctx_;
  std::weak_ptr<const engine::Engine> engine_;
  std::vector<Choice> choices_;
  size_t remaining_;
  bool opened_ = false;
  bool ended_ = false;          // every choice has ended, or one has failed
  std::string* out_ = nullptr;  // where add() writes a stream's frames
  int status_ = 200;
  nlohmann::json response_;
};

}  // namespace rbees::server
