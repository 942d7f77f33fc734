#pragma once
// One OpenAI request's sinks, on the engine's event thread: a request of several choices (a batch of
// prompts, n > 1) runs one engine job per choice, and each job reports to its choice's sink. They
// record the token timings and hand the events to the request's channel (OpenAiFrames writes the
// response from them), which closes when every choice has ended or one has failed.

#include "engine/engine.hpp"
#include "server/request_timing.hpp"
#include "server/stream_channel.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace rbees::server {

class OpenAiSink : public std::enable_shared_from_this<OpenAiSink> {
 public:
  // `prompt_logprobs`: the response shows the prompt's log-probabilities (completions with echo and
  // logprobs), so the engine's report of them is passed on.
  OpenAiSink(int n_choices, bool prompt_logprobs, std::shared_ptr<StreamChannel> channel,
             std::shared_ptr<WorkerMetrics> metrics);

  // The sink of choice `index`'s job. Once one choice is cancelled or fails, the others report
  // their clients gone, so that the engine ends them too.
  std::shared_ptr<engine::Sink> choice(int index);
  // The response will not be sent (a choice's job was refused): the jobs already submitted end at
  // the engine's next step and are not heard.
  void abandon();

 private:
  class ChoiceSink;

  void on_prompt_logprobs(uint32_t index, std::span<const engine::PromptTokenLogprob> tokens);
  void on_token(uint32_t index, const engine::TokenEvent& event);
  void on_finish(uint32_t index, const engine::FinalResult& result);
  bool stopping() const;

  const bool prompt_logprobs_;
  std::shared_ptr<StreamChannel> channel_;
  std::atomic<bool> stop_{false};  // a choice was cancelled or failed, or the response abandoned
  std::mutex mu_;                  // an engine may call its jobs' sinks from several threads
  std::vector<RequestTiming> timing_;
  size_t remaining_;
  bool ended_ = false;  // the channel is closed (a failure ends the response at once)
};

}  // namespace rbees::server
