#pragma once
// The start-up "ready" callback: once the model is loaded and the server listens, the worker tells
// its orchestrator where it is, retrying with exponential backoff until a deadline.

#include <chrono>
#include <cstdint>
#include <string>

namespace rbees::server {

struct ReadyInfo {
  std::string worker_id;
  std::string uri;  // "http://HOST:PORT" as bound
  std::string model_ref;
  uint64_t vram_bytes = 0;
  std::string device;
  int64_t context_length = 0;
};

struct CallbackOptions {
  std::chrono::milliseconds timeout{30000};        // total time allowed
  std::chrono::milliseconds initial_backoff{250};  // doubles after each failure
  std::chrono::milliseconds max_backoff{5000};
};

struct CallbackResult {
  bool ok = false;
  int attempts = 0;
  std::string last_error;  // status code or transport error of the last failed attempt
};

// POSTs `info` as JSON to `url` (http://host[:port][/path]) until a 2xx answer or the timeout.
CallbackResult post_ready_callback(const std::string& url, const ReadyInfo& info, const CallbackOptions& options = {});

}  // namespace rbees::server
