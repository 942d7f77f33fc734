#pragma once
// A request's time limit (--request-timeout). The HTTP thread that waits on a request's channel
// cancels the job once the limit has passed and marks the channel; this sink, wrapped around the
// request's own, then reports the end as a TIMEOUT failure instead of a cancellation, so the client
// learns why its request stopped.

#include "engine/engine.hpp"
#include "server/stream_channel.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace rbees::server {

class DeadlineSink : public engine::Sink {
 public:
  DeadlineSink(std::shared_ptr<engine::Sink> inner, std::shared_ptr<StreamChannel> channel, std::string limit_text)
      : inner_(std::move(inner)), channel_(std::move(channel)), limit_text_(std::move(limit_text)) {}

  void on_prompt_logprobs(std::span<const engine::PromptTokenLogprob> tokens) override {
    inner_->on_prompt_logprobs(tokens);
  }
  void on_token(const engine::TokenEvent& event) override { inner_->on_token(event); }
  void on_finish(const engine::FinalResult& result) override;
  bool client_gone() const override { return inner_->client_gone(); }

 private:
  std::shared_ptr<engine::Sink> inner_;
  std::shared_ptr<StreamChannel> channel_;
  std::string limit_text_;  // "30 s", for the message
};

// When a request must end; nullopt when requests have no time limit.
using Deadline = std::optional<std::chrono::steady_clock::time_point>;

// True once, the first time it is called past the deadline of a request whose channel is still
// open: the caller then cancels the job.
bool deadline_passed(const Deadline& deadline, StreamChannel& channel);

}  // namespace rbees::server
