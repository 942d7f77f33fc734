#pragma once
// The HTTP front end's settings; each is an option of `serve`.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace rbees::server {

struct ServerOptions {
  std::string worker_id;
  std::optional<std::string> api_key;  // every endpoint but /health and the chat page then needs it
  // Origins whose pages may call the API from a browser (`*`: any); empty: no CORS headers at all.
  std::vector<std::string> cors_origins;
  // Names the OpenAI API answers to besides the model's own (--served-model-name); the first one
  // names the model in responses and leads /v1/models.
  std::vector<std::string> served_model_names;
  // Threads that run the connections' event loop, the endpoints and the streams' framing. A
  // connection holds none of them while it waits, whether idle, slow or streaming.
  int http_threads = 4;
  int retry_after_seconds = 1;  // Retry-After of 503 OVERLOADED

  // Limits that keep one client from holding the process.
  size_t max_body_bytes = 4 * 1024 * 1024;  // larger bodies get 413
  // All header lines together; more get 431. One header line is capped at 8192 bytes (400), and
  // the request target too (414).
  size_t max_header_bytes = 16 * 1024;
  // Open connections; at the cap the oldest one without a request in progress is closed for a new
  // one, and a new one is refused when every connection is busy.
  size_t max_connections = 8192;
  // From a request's first byte to the end of its headers.
  std::chrono::milliseconds header_timeout{5'000};
  // Longest wait for the next bytes of a body being received.
  std::chrono::milliseconds read_timeout{10'000};
  // The whole body's deadline: --header-timeout after the headers end, plus its declared length at
  // this many bytes a second (the size limit, for a body of no stated length).
  size_t min_body_rate = 64 * 1024;
  // Longest a response write may stay blocked (a client not reading): the connection is then
  // dropped, and its job cancelled.
  std::chrono::milliseconds write_timeout{10'000};
  // How long a connection may sit without a request, before its first one or between keep-alive
  // requests.
  int idle_timeout_s = 5;
  // From arrival to the end of the response, queueing included; zero: no limit.
  std::chrono::milliseconds request_timeout{0};
};

// cpp-httplib's compile-time limits, kept: the request line and one header line.
constexpr size_t kMaxRequestLineBytes = 8192;
constexpr size_t kMaxHeaderLineBytes = 8192;

}  // namespace rbees::server
