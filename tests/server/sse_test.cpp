#include "server/sse.hpp"

#include <gtest/gtest.h>

namespace rbees::server {
namespace {

using nlohmann::json;
using namespace std::chrono;

TEST(Sse, EventFraming) {
  EXPECT_EQ(sse_event("token", json{{"type", "token"}, {"t", "a\nb"}, {"i", 0}}),
            "event: token\ndata: {\"i\":0,\"t\":\"a\\nb\",\"type\":\"token\"}\n\n");
  EXPECT_EQ(sse_data(json{{"x", 1}}), "data: {\"x\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
}

TEST(Sse, InvalidUtf8IsReplacedNotThrown) {
  const std::string frame = sse_event("token", json{{"t", std::string("a\xC3")}});
  EXPECT_EQ(frame, "event: token\ndata: {\"t\":\"a\xEF\xBF\xBD\"}\n\n");
}

TEST(Sse, Iso8601Utc) {
  // 2026-11-22T00:37:55.123Z is 1795307875.123 s after the epoch.
  const system_clock::time_point t{milliseconds(1795307875123LL)};
  EXPECT_EQ(iso8601_utc(t), "2026-11-22T00:37:55.123Z");
  EXPECT_EQ(iso8601_utc(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
}

TEST(Sse, EventPayloads) {
  const system_clock::time_point t{milliseconds(0)};
  EXPECT_EQ(sse_frame(started_event("job-1", "wp-llama-5m", t)),
            "event: started\ndata: "
            "{\"job_id\":\"job-1\",\"model\":\"wp-llama-5m\",\"started_at\":\"1970-01-01T00:00:00.000Z\",\"type\":"
            "\"started\"}\n\n");
  EXPECT_EQ(token_event("Hi", 3), (json{{"type", "token"}, {"t", "Hi"}, {"i", 3}}));
  EXPECT_EQ(metrics_event(12.5, 1024), (json{{"type", "metrics"}, {"tokens_per_sec", 12.5}, {"vram_bytes", 1024}}));
  EXPECT_EQ(end_event(7, 33.0, "max_tokens", std::nullopt),
            (json{{"type", "end"}, {"tokens_out", 7}, {"decode_time_ms", 33.0}, {"stop_reason", "max_tokens"}}));
  EXPECT_EQ(end_event(2, 1.5, "stop_sequence", "\n\n")["stop_sequence_matched"], "\n\n");
  EXPECT_EQ(
      error_event(ErrorCode::cancelled, "cancelled by request", false),
      (json{{"type", "error"}, {"code", "CANCELLED"}, {"message", "cancelled by request"}, {"retriable", false}}));
  EXPECT_EQ(to_string(ErrorCode::vram_oom), "VRAM_OOM");
  EXPECT_EQ(to_string(ErrorCode::inference_failed), "INFERENCE_FAILED");
  EXPECT_EQ(to_string(ErrorCode::timeout), "TIMEOUT");
  EXPECT_EQ(to_string(ErrorCode::invalid_request), "INVALID_REQUEST");
}

}  // namespace
}  // namespace rbees::server
