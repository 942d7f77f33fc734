#pragma once
// Server-sent events: the worker protocol's /execute events and OpenAI's data-only stream frames.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rbees::server {

// "event: <type>\ndata: <json>\n\n". The JSON is one line (newlines in strings are escaped), and
// invalid UTF-8 in it is replaced rather than thrown on.
std::string sse_event(std::string_view type, const nlohmann::json& data);
// "data: <json>\n\n" (OpenAI streams) and the terminating "data: [DONE]\n\n".
std::string sse_data(const nlohmann::json& data);
std::string sse_done();

// "2026-11-22T00:37:55.123Z"
std::string iso8601_utc(std::chrono::system_clock::time_point t);

// Error codes of the protocol's `error` event.
enum class ErrorCode { invalid_request, cancelled, timeout, vram_oom, inference_failed };
std::string_view to_string(ErrorCode code);  // "INVALID_REQUEST", ...

// The protocol's event payloads; each carries its "type".
nlohmann::json started_event(std::string_view job_id, std::string_view model, std::chrono::system_clock::time_point t);
nlohmann::json token_event(std::string_view text, int64_t index);
nlohmann::json metrics_event(double tokens_per_sec, uint64_t vram_bytes);
nlohmann::json end_event(int64_t tokens_out, double decode_time_ms, std::string_view stop_reason,
                         const std::optional<std::string>& stop_sequence_matched);
nlohmann::json error_event(ErrorCode code, std::string_view message, bool retriable);

// The full frame for one of the payloads above, named by its "type".
std::string sse_frame(const nlohmann::json& event);

}  // namespace rbees::server
