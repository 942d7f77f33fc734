#pragma once
// Why a sequence stopped generating, named as the worker protocol's `stop_reason` names it.

#include <string_view>

namespace rbees::engine {

enum class FinishReason { none, max_tokens, eos, stop_sequence, context_length, cancelled };

constexpr std::string_view to_string(FinishReason r) {
  switch (r) {
    case FinishReason::none: return "none";
    case FinishReason::max_tokens: return "max_tokens";
    case FinishReason::eos: return "eos";
    case FinishReason::stop_sequence: return "stop_sequence";
    case FinishReason::context_length: return "context_length";
    case FinishReason::cancelled: return "cancelled";
  }
  return "none";
}

}  // namespace rbees::engine
