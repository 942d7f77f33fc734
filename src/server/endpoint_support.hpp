#pragma once
// What several endpoints do alike: find the engine ready for work, answer its admission refusals,
// name OpenAI jobs.

#include "server/http_message.hpp"
#include "server/server_context.hpp"

#include <memory>
#include <optional>
#include <string>

namespace rbees::server::endpoints {

// The engine for a work request, or the 503 to answer (loading or draining).
struct ReadyEngine {
  std::shared_ptr<engine::Engine> engine;
  std::optional<HttpResponse> refusal;
};
ReadyEngine ready_engine(const ServerContext& ctx, const HttpRequest& req);

// Admission refusals: 503 OVERLOADED / SHUTTING_DOWN, or 400 for a request the context cannot hold.
HttpResponse admission_refusal(const ServerContext& ctx, const HttpRequest& req, const engine::SubmitResult& r);

// "cmpl-" + 16 hex digits.
std::string random_id(const std::string& prefix);

}  // namespace rbees::server::endpoints
