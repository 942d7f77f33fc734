#pragma once
// Per-request token timing fed into the worker metrics: time to first token, inter-token latency,
// token counters.

#include "engine/engine.hpp"
#include "server/metrics.hpp"

#include <chrono>
#include <memory>

namespace rbees::server {

class RequestTiming {
 public:
  explicit RequestTiming(std::shared_ptr<WorkerMetrics> metrics)
      : metrics_(std::move(metrics)), start_(std::chrono::steady_clock::now()) {}

  void token();
  void finish(const engine::FinalResult& result);

 private:
  std::shared_ptr<WorkerMetrics> metrics_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
  bool any_ = false;
};

// One-line JSON text; invalid UTF-8 (a byte token's partial character) is replaced, not thrown on.
std::string dump_json(const nlohmann::json& j);

}  // namespace rbees::server
