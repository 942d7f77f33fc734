#include "server/execute_frames.hpp"

#include "server/sse.hpp"

namespace rbees::server {

void ExecuteFrames::add(std::span<const StreamEvent> events, std::string& out) {
  if (!opened_) {
    out += sse_frame(started_event(job_id_, model_, started_));
    opened_ = true;
  }
  for (const StreamEvent& e : events) {
    if (const auto* token = std::get_if<engine::TokenEvent>(&e.data)) text(token->text, out);
    if (const auto* result = std::get_if<engine::FinalResult>(&e.data)) finish(*result, out);
  }
}

// Token events carry non-empty text only; `i` numbers the events, not the tokens.
void ExecuteFrames::text(const std::string& text, std::string& out) {
  if (text.empty()) return;
  out += sse_frame(token_event(text, next_index_++));
}

void ExecuteFrames::finish(const engine::FinalResult& result, std::string& out) {
  if (result.failure) {
    ErrorCode code = ErrorCode::inference_failed;
    if (result.failure->kind == engine::FailureKind::timeout) code = ErrorCode::timeout;
    if (result.failure->kind == engine::FailureKind::vram_oom) code = ErrorCode::vram_oom;
    out += sse_frame(error_event(code, result.failure->message, result.failure->retriable));
    return;
  }
  if (result.reason == engine::FinishReason::cancelled) {
    out += sse_frame(error_event(ErrorCode::cancelled, "the job was cancelled", false));
    return;
  }
  text(result.trailing_text, out);
  const double tokens_per_sec = result.decode_ms > 0 ? 1000.0 * result.tokens_out / result.decode_ms : 0.0;
  out += sse_frame(metrics_event(tokens_per_sec, vram_bytes_));
  out +=
      sse_frame(end_event(result.tokens_out, result.decode_ms, engine::to_string(result.reason), result.stop_sequence));
}

}  // namespace rbees::server
