#pragma once
// Turns one OpenAI request's engine output into a completion or chat completion: streamed as
// `data:` chunks ending with `data: [DONE]`, or collected into one JSON response.

#include "engine/engine.hpp"
#include "server/request_timing.hpp"
#include "server/stream_channel.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

namespace rbees::server {

struct OpenAiContext {
  std::string id;  // "cmpl-..." / "chatcmpl-..."
  std::string model;
  int64_t created = 0;  // Unix seconds
  bool chat = false;
  bool stream = false;
  bool include_usage = false;
  std::optional<int32_t> logprobs;
  std::string echo_prefix;  // completions with echo: the prompt's text
};

// OpenAI's finish_reason for an engine stop reason.
std::string openai_finish_reason(engine::FinishReason reason);

class OpenAiSink : public engine::Sink {
 public:
  OpenAiSink(OpenAiContext context, std::shared_ptr<const engine::Engine> engine,
             std::shared_ptr<StreamChannel> channel, std::shared_ptr<WorkerMetrics> metrics);

  void on_token(const engine::TokenEvent& event) override;
  void on_finish(const engine::FinalResult& result) override;
  bool client_gone() const override { return channel_->client_gone(); }

  // Non-streaming: the response, once the channel is closed.
  int status() const { return status_; }
  const nlohmann::json& response() const { return response_; }

 private:
  nlohmann::json chunk(const std::string& text, const nlohmann::json& logprobs,
                       const std::optional<std::string>& finish_reason) const;
  nlohmann::json logprob_entries(const engine::TokenEvent& event, size_t text_offset) const;
  void append_logprobs(nlohmann::json& into, const nlohmann::json& entries) const;
  nlohmann::json empty_logprobs() const;
  nlohmann::json usage(const engine::FinalResult& result) const;

  OpenAiContext ctx_;
  std::shared_ptr<const engine::Engine> engine_;
  std::shared_ptr<StreamChannel> channel_;
  RequestTiming timing_;
  std::string text_;
  nlohmann::json logprobs_;  // collected (non-streaming)
  bool sent_role_ = false;
  int status_ = 200;
  nlohmann::json response_;
};

}  // namespace rbees::server
