#include "engine/continuation.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

namespace rbees::engine {

// Special tokens (BOS, EOS under ignore_eos) are control signals, not text.
Continuation::Continuation(const tokenizer::Tokenizer& tokenizer, ContinuationLimits limits)
    : tokenizer_(tokenizer), limits_(std::move(limits)), detok_(tokenizer, /*skip_special=*/true) {
  std::erase_if(limits_.stop, [](const std::string& s) { return s.empty(); });
}

bool Continuation::release_safe_text(std::string& out, TokenResult& result) {
  // The earliest complete stop string wins; text before it is shown, it and the rest are not.
  size_t best = std::string::npos;
  const std::string* which = nullptr;
  for (const auto& s : limits_.stop) {
    const size_t at = held_.find(s);
    if (at < best) {
      best = at;
      which = &s;
    }
  }
  if (which != nullptr) {
    out.append(held_, 0, best);
    held_.clear();
    result.stop_matched = *which;
    return true;
  }
  // Hold back the longest tail that is the start of some stop string.
  size_t keep = 0;
  for (const auto& s : limits_.stop) {
    const size_t max_len = std::min(s.size() - 1, held_.size());
    for (size_t len = max_len; len > keep; --len) {
      if (std::string_view(held_).substr(held_.size() - len) == std::string_view(s).substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  out.append(held_, 0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return false;
}

TokenResult Continuation::push(int32_t id) {
  TokenResult r;
  ++n_generated_;
  if (!limits_.ignore_eos && tokenizer_.is_end_of_generation(id)) {
    r.finish = FinishReason::eos;
    r.text = flush();
    return r;
  }
  held_ += detok_.push(id);
  if (release_safe_text(r.text, r)) {
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
  held_ += detok_.finish();
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace rbees::engine
