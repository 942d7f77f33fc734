#pragma once
// Turns one OpenAI request's engine output into a completion or chat completion: streamed as
// `data:` chunks ending with `data: [DONE]`, or collected into one JSON response. A request of
// several choices (a batch of prompts, n > 1) runs one engine job per choice; each job reports to
// its choice's sink, and the response ends when every choice has.

#include "engine/engine.hpp"
#include "server/request_timing.hpp"
#include "server/stream_channel.hpp"
#include "server/tool_call_stream.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <mutex>
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

class OpenAiSink : public std::enable_shared_from_this<OpenAiSink> {
 public:
  OpenAiSink(OpenAiContext context, std::shared_ptr<const engine::Engine> engine,
             std::shared_ptr<StreamChannel> channel, std::shared_ptr<WorkerMetrics> metrics);

  // The sink of choice `index`'s job. Once one choice is cancelled or fails, the others report
  // their clients gone, so that the engine ends them too.
  std::shared_ptr<engine::Sink> choice(int index);
  // The response will not be sent (a choice's job was refused): the jobs already submitted end at
  // the engine's next step and are not heard.
  void abandon();

  // Non-streaming: the response, once the channel is closed.
  int status() const { return status_; }
  const nlohmann::json& response() const { return response_; }

 private:
  class ChoiceSink;
  struct Choice {
    explicit Choice(std::shared_ptr<WorkerMetrics> metrics) : timing(std::move(metrics)) {}
    RequestTiming timing;
    std::string text;
    nlohmann::json logprobs;  // collected (non-streaming)
    bool sent_role = false;
    std::string finish_reason;
    engine::FinalResult result;
    std::optional<ToolCallStream> tools;  // with tools: the text split into content and calls
    std::string content;                  // with tools: the text outside calls
    std::vector<chat::ToolCall> calls;    // with tools: the calls so far
  };

  void on_prompt_logprobs(size_t index, std::span<const engine::PromptTokenLogprob> tokens);
  void on_token(size_t index, const engine::TokenEvent& event);
  void on_finish(size_t index, const engine::FinalResult& result);
  bool stopping() const;
  void send_role(size_t index);
  // With tools: takes a piece of content and the calls it completed, streaming them (content with
  // the token's log-probabilities) or keeping them for the response.
  void take(size_t index, ToolCallStream::Output out, const nlohmann::json& logprobs);
  nlohmann::json chunk(size_t index, const std::string& text, const nlohmann::json& logprobs,
                       const std::optional<std::string>& finish_reason) const;
  nlohmann::json logprob_entries(const engine::TokenEvent& event, size_t text_offset) const;
  void append_logprobs(nlohmann::json& into, const nlohmann::json& entries) const;
  nlohmann::json empty_logprobs() const;
  nlohmann::json usage() const;
  void complete();

  OpenAiContext ctx_;
  std::shared_ptr<const engine::Engine> engine_;
  std::shared_ptr<StreamChannel> channel_;
  std::atomic<bool> stop_{false};  // a choice was cancelled or failed, or the response abandoned
  std::mutex mu_;                  // an engine may call its jobs' sinks from several threads
  std::vector<Choice> choices_;
  size_t remaining_;
  bool ended_ = false;  // the channel is closed (a failure ends the response at once)
  int status_ = 200;
  nlohmann::json response_;
};

}  // namespace rbees::server
