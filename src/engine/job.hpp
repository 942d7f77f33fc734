#pragma once
// A request inside the batch engine: what was asked, where its events go, its sequence, and the
// bookkeeping of its output (first token, stop string, the prompt's log-probabilities).

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "engine/event_outbox.hpp"
#include "engine/request.hpp"
#include "engine/sequence.hpp"

namespace rbees::engine {

struct Job {
  std::string job_id;
  Request request;
  std::shared_ptr<Sink> sink;
  // Whether the sink threw (EventOutbox): the job is then cancelled. Its job_id is set with job_id.
  std::shared_ptr<SinkStatus> sink_status = std::make_shared<SinkStatus>();
  std::unique_ptr<Sequence> seq;
  std::chrono::steady_clock::time_point submitted;
  std::chrono::steady_clock::time_point first_token;
  bool has_first_token = false;
  std::optional<std::string> stop_matched;
  int max_new_tokens = 0;
  bool cancelled = false;
  // Completions with echo and logprobs: every prompt position's log-probabilities, gathered chunk by
  // chunk and sent once the prompt is computed.
  bool prompt_logprobs = false;
  std::vector<PromptTokenLogprob> prompt_lp;
};

}  // namespace rbees::engine
