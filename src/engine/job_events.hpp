#pragma once
// What the engine reports about one job, in order: token events (non-empty text pieces), then exactly
// one end (the generation stopped: FinishReason) or error.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/finish_reason.hpp"
#include "sampling/logprobs.hpp"

namespace rbees::engine {

struct JobEvent {
  enum class Kind { token, end, error };
  Kind kind = Kind::token;

  // token: text to show now (never empty) and the tokens it completes, each with log-probabilities
  // when the request asked for them.
  std::string text;
  std::vector<int32_t> token_ids;
  std::vector<float> logprobs;
  std::vector<std::vector<sampling::TokenLogprob>> top_logprobs;

  // end
  FinishReason finish = FinishReason::none;
  std::optional<std::string> stop_matched;
  int prompt_tokens = 0;
  int generated_tokens = 0;
  int reused_prompt_tokens = 0;
  double time_to_first_token_ms = 0;
  double decode_ms = 0;

  // error: a protocol code (INFERENCE_FAILED, CANCELLED, ...) and a message
  std::string error_code;
  std::string error_message;
};

// Called on the engine's scheduler thread; must not block. Returning false says the receiver is gone
// (client disconnected): the job is cancelled and gets no more events.
using JobEventFn = std::function<bool(const JobEvent&)>;

}  // namespace rbees::engine
