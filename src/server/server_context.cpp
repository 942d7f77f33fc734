#include "server/server_context.hpp"

#include <cstdio>

namespace rbees::server {

void JobOwners::claim(const std::string& job_id, uint64_t connection_id) {
  std::lock_guard lock(mu_);
  owners_[job_id] = connection_id;
}

void JobOwners::release(const std::string& job_id) {
  std::lock_guard lock(mu_);
  owners_.erase(job_id);
}

std::optional<uint64_t> JobOwners::owner(const std::string& job_id) const {
  std::lock_guard lock(mu_);
  const auto it = owners_.find(job_id);
  if (it == owners_.end()) return std::nullopt;
  return it->second;
}

ServerContext::ServerContext(ServerOptions opts, std::shared_ptr<WorkerMetrics> m)
    : options(std::move(opts)),
      metrics(m ? std::move(m) : std::make_shared<WorkerMetrics>()),
      auth(options.api_key),
      cors(options.cors_origins),
      started(std::chrono::steady_clock::now()),
      started_wall(std::chrono::system_clock::now()) {}

std::shared_ptr<engine::Engine> ServerContext::engine() const {
  std::lock_guard lock(engine_mu_);
  return engine_;
}

void ServerContext::set_engine(std::shared_ptr<engine::Engine> e) {
  std::lock_guard lock(engine_mu_);
  engine_ = std::move(e);
}

Deadline ServerContext::deadline_from_now() const {
  if (options.request_timeout.count() <= 0) return std::nullopt;
  return std::chrono::steady_clock::now() + options.request_timeout;
}

std::shared_ptr<engine::Sink> ServerContext::with_deadline(std::shared_ptr<engine::Sink> sink,
                                                           std::shared_ptr<StreamChannel> channel) const {
  if (options.request_timeout.count() <= 0) return sink;
  char limit[32];
  std::snprintf(limit, sizeof limit, "%g s", std::chrono::duration<double>(options.request_timeout).count());
  return std::make_shared<DeadlineSink>(std::move(sink), std::move(channel), limit);
}

std::string ServerContext::unhealthy_reason() const {
  std::lock_guard lk(engine_mu_);
  return unhealthy_reason_;
}

void ServerContext::mark_unhealthy(const std::string& reason) {
  {
    std::lock_guard lk(engine_mu_);
    unhealthy_reason_ = reason;
  }
  state = ServerState::unhealthy;
}

}  // namespace rbees::server
