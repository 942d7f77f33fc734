#include "server/sse.hpp"

#include <ctime>

namespace rbees::server {

using nlohmann::json;

namespace {

std::string one_line(const json& data) {
  return data.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string sse_event(std::string_view type, const json& data) {
  std::string out = "event: ";
  out.append(type);
  out += "\ndata: ";
  out += one_line(data);
  out += "\n\n";
  return out;
}

std::string sse_data(const json& data) {
  return "data: " + one_line(data) + "\n\n";
}

std::string sse_done() {
  return "data: [DONE]\n\n";
}

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  long long frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_request: return "INVALID_REQUEST";
    case ErrorCode::cancelled: return "CANCELLED";
    case ErrorCode::timeout: return "TIMEOUT";
    case ErrorCode::vram_oom: return "VRAM_OOM";
    case ErrorCode::inference_failed: return "INFERENCE_FAILED";
  }
  return "INFERENCE_FAILED";
}

json started_event(std::string_view job_id, std::string_view model, std::chrono::system_clock::time_point t) {
  return {{"type", "started"}, {"job_id", job_id}, {"model", model}, {"started_at", iso8601_utc(t)}};
}

json token_event(std::string_view text, int64_t index) {
  return {{"type", "token"}, {"t", text}, {"i", index}};
}

json metrics_event(double tokens_per_sec, uint64_t vram_bytes) {
  return {{"type", "metrics"}, {"tokens_per_sec", tokens_per_sec}, {"vram_bytes", vram_bytes}};
}

json end_event(int64_t tokens_out, double decode_time_ms, std::string_view stop_reason,
               const std::optional<std::string>& stop_sequence_matched) {
  json j = {
      {"type", "end"}, {"tokens_out", tokens_out}, {"decode_time_ms", decode_time_ms}, {"stop_reason", stop_reason}};
  if (stop_sequence_matched) j["stop_sequence_matched"] = *stop_sequence_matched;
  return j;
}

json error_event(ErrorCode code, std::string_view message, bool retriable) {
  return {{"type", "error"}, {"code", to_string(code)}, {"message", message}, {"retriable", retriable}};
}

std::string sse_frame(const json& event) {
  return sse_event(event.at("type").get<std::string>(), event);
}

}  // namespace rbees::server
