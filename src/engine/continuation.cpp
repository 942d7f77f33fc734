#include "engine/continuation.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

namespace rbees::engine {

// Special tokens (BOS, EOS under ignore_eos) are control signals, not text, unless asked for.
Continuation::Continuation(const tokenizer::Tokenizer& tokenizer, ContinuationLimits limits)
    : tokenizer_(tokenizer),
      limits_(std::move(limits)),
      detok_(tokenizer, /*skip_special=*/!limits_.special_text),
      stops_(limits_.stop) {}

TokenResult Continuation::push(int32_t id) {
  TokenResult r;
  ++n_generated_;
  if (!limits_.ignore_eos && tokenizer_.is_end_of_generation(id)) {
    r.finish = FinishReason::eos;
    r.text = flush();
    return r;
  }
  auto fed = stops_.feed(detok_.push(id));
  r.text = std::move(fed.text);
  if (fed.matched) {
    r.stop_matched = stops_.stops()[*fed.matched];
    r.finish = FinishReason::stop_sequence;
    finished_ = true;
    return r;
  }
  if (n_generated_ >= limits_.max_new_tokens) {
    r.finish = limits_.budget_from_context ? FinishReason::context_length : FinishReason::max_tokens;
    r.text += flush();
  }
  return r;
}

std::string Continuation::flush() {
  finished_ = true;
  auto fed = stops_.feed(detok_.finish());
  return fed.matched ? std::move(fed.text) : fed.text + stops_.flush();
}

}  // namespace rbees::engine
