#include "server/execute_sink.hpp"

#include "server/sse.hpp"

namespace rbees::server {

void ExecuteSink::emit_text(const std::string& text) {
  // Token events carry non-empty text only; `i` numbers the events, not the tokens.
  if (text.empty()) return;
  channel_->push(sse_frame(token_event(text, next_index_++)));
}

void ExecuteSink::on_token(const engine::TokenEvent& event) {
  timing_.token();
  emit_text(event.text);
}

void ExecuteSink::on_finish(const engine::FinalResult& result) {
  timing_.finish(result);
  if (result.failure) {
    ErrorCode code = ErrorCode::inference_failed;
    if (result.failure->kind == engine::FailureKind::timeout) code = ErrorCode::timeout;
    if (result.failure->kind == engine::FailureKind::vram_oom) code = ErrorCode::vram_oom;
    channel_->push(sse_frame(error_event(code, result.failure->message, result.failure->retriable)));
  } else if (result.reason == engine::FinishReason::cancelled) {
    channel_->push(sse_frame(error_event(ErrorCode::cancelled, "the job was cancelled", false)));
  } else {
    emit_text(result.trailing_text);
    const double tokens_per_sec = result.decode_ms > 0 ? 1000.0 * result.tokens_out / result.decode_ms : 0.0;
    channel_->push(sse_frame(metrics_event(tokens_per_sec, vram_bytes_)));
    channel_->push(sse_frame(
        end_event(result.tokens_out, result.decode_ms, engine::to_string(result.reason), result.stop_sequence)));
  }
  channel_->close();
}

}  // namespace rbees::server
