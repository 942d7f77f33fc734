#pragma once
// The text side of one sequence's generation: each generated token goes through the end-of-generation
// check, the streaming detokenizer and the stop strings, and comes out as the text that may be shown
// now. Text that could still turn out to begin a stop string is held back; a matched stop string is
// never shown. Also decides when the token budget (max_tokens or the context) is spent.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/finish_reason.hpp"
#include "engine/stop_matcher.hpp"
#include "tokenizer/streaming_detokenizer.hpp"
#include "tokenizer/tokenizer.hpp"

namespace rbees::engine {

struct ContinuationLimits {
  // Tokens to generate at most; `budget_from_context` says whether the cap is the context's room
  // (then reaching it ends with context_length rather than max_tokens).
  int max_new_tokens = 0;
  bool budget_from_context = false;
  bool ignore_eos = false;
  std::vector<std::string> stop;
  // Special tokens' text is part of the output (a tool-call marker such as [TOOL_CALLS]).
  bool special_text = false;
};

struct TokenResult {
  std::string text;  // to show now (may be empty)
  FinishReason finish = FinishReason::none;
  std::optional<std::string> stop_matched;  // the stop string, when finish == stop_sequence
};

class Continuation {
 public:
  Continuation(const tokenizer::Tokenizer& tokenizer, ContinuationLimits limits);

  // One generated token; after a result with finish != none, no more tokens may be pushed.
  TokenResult push(int32_t id);
  // Ends the text early (e.g. cancel): releases held-back text.
  std::string flush();
  int n_generated() const { return n_generated_; }
  int max_new_tokens() const { return limits_.max_new_tokens; }
  bool finished() const { return finished_; }

 private:
  tokenizer::Tokenizer tokenizer_;
  ContinuationLimits limits_;
  tokenizer::StreamingDetokenizer detok_;
  StopMatcher stops_;
  int n_generated_ = 0;
  bool finished_ = false;
};

}  // namespace rbees::engine
