#pragma once
// What every endpoint shares: the options, the metrics, the API key, the CORS policy, the worker's
// state and its engine, and which connection owns each OpenAI job.

#include "engine/engine.hpp"
#include "server/auth.hpp"
#include "server/cors.hpp"
#include "server/deadline_sink.hpp"
#include "server/metrics.hpp"
#include "server/server_options.hpp"
#include "server/stream_channel.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace rbees::server {

// unhealthy: the model can no longer run (a device was lost); the process exits soon after.
enum class ServerState { loading, healthy, draining, unhealthy };

// OpenAI clients cannot name their job's id before they have it, so an OpenAI job may be cancelled
// only by the connection that started it, or by a caller holding the API key when one is set;
// /execute jobs are named by the pool manager, which cancels them.
class JobOwners {
 public:
  void claim(const std::string& job_id, uint64_t connection_id);
  void release(const std::string& job_id);
  std::optional<uint64_t> owner(const std::string& job_id) const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint64_t> owners_;
};

class ServerContext {
 public:
  ServerContext(ServerOptions options, std::shared_ptr<WorkerMetrics> metrics);

  const ServerOptions options;
  const std::shared_ptr<WorkerMetrics> metrics;
  const ApiKeyCheck auth;
  const CorsPolicy cors;
  std::atomic<ServerState> state{ServerState::loading};
  std::atomic<int> open_streams{0};  // engine replies not yet ended
  JobOwners openai_jobs;
  const std::chrono::steady_clock::time_point started;
  const std::chrono::system_clock::time_point started_wall;

  std::shared_ptr<engine::Engine> engine() const;
  void set_engine(std::shared_ptr<engine::Engine> engine);
  // Why the worker is unhealthy (ServerState::unhealthy); empty otherwise.
  std::string unhealthy_reason() const;
  void mark_unhealthy(const std::string& reason);

  // When a request arriving now must end (--request-timeout), and its sink made to report it.
  Deadline deadline_from_now() const;
  std::shared_ptr<engine::Sink> with_deadline(std::shared_ptr<engine::Sink> sink,
                                              std::shared_ptr<StreamChannel> channel) const;

 private:
  mutable std::mutex engine_mu_;
  std::shared_ptr<engine::Engine> engine_;
  std::string unhealthy_reason_;  // under engine_mu_
};

}  // namespace rbees::server
