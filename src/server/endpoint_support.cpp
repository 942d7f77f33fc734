#include "server/endpoint_support.hpp"

#include "server/error_responses.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

namespace rbees::server::endpoints {

ReadyEngine ready_engine(const ServerContext& ctx, const HttpRequest& req) {
  const ServerState st = ctx.state;
  if (st == ServerState::unhealthy) {
    return {nullptr,
            unavailable(req.path, "UNHEALTHY", "the worker cannot run its model: " + ctx.unhealthy_reason(), 0)};
  }
  if (st == ServerState::draining) {
    return {nullptr, unavailable(req.path, "SHUTTING_DOWN", "the worker is shutting down", 0)};
  }
  auto e = ctx.engine();
  if (st == ServerState::loading || !e) {
    return {nullptr, unavailable(req.path, "LOADING", "the model is still loading", ctx.options.retry_after_seconds)};
  }
  return {std::move(e), std::nullopt};
}

HttpResponse admission_refusal(const ServerContext& ctx, const HttpRequest& req, const engine::SubmitResult& r) {
  switch (r.admission) {
    case engine::Admission::overloaded:
      return unavailable(req.path, "OVERLOADED", r.message.empty() ? "the queue is full" : r.message,
                         ctx.options.retry_after_seconds);
    case engine::Admission::shutting_down:
      if (ctx.state == ServerState::unhealthy) {
        return unavailable(req.path, "UNHEALTHY", "the worker cannot run its model: " + ctx.unhealthy_reason(), 0);
      }
      return unavailable(req.path, "SHUTTING_DOWN", "the worker is shutting down", 0);
    default: {
      // The context limit unless the engine names another field (a grammar that does not compile).
      const std::string field = r.field.empty() ? "max_tokens" : r.field;
      const std::string constraint = r.constraint.empty() ? "context_length" : r.constraint;
      HttpResponse res = validation_errors(req.path, {{field, constraint, r.message, std::nullopt}});
      // A job id already in use is a conflict with the server's state, not a malformed request.
      if (field == "job_id" && constraint == "unique") res.status = 409;
      return res;
    }
  }
}

std::vector<std::string> served_model_names(const ServerContext& ctx, const engine::Engine& e) {
  std::vector<std::string> names = ctx.options.served_model_names;
  std::string own = e.health().model;
  if (std::find(names.begin(), names.end(), own) == names.end()) names.push_back(std::move(own));
  return names;
}

std::optional<std::string> resolve_model(const ServerContext& ctx, const engine::Engine& e,
                                         const std::optional<std::string>& requested) {
  const auto names = served_model_names(ctx, e);
  if (!requested) return names.front();
  if (std::find(names.begin(), names.end(), *requested) != names.end()) return requested;
  return std::nullopt;
}

std::string random_id(const std::string& prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return prefix + buf;
}

}  // namespace rbees::server::endpoints
