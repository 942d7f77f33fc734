#pragma once
// What several endpoints do alike: find the engine ready for work, answer its admission refusals,
// name OpenAI jobs.

#include "server/http_message.hpp"
#include "server/server_context.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rbees::server::endpoints {

// The engine for a work request, or the 503 to answer (loading or draining).
struct ReadyEngine {
  std::shared_ptr<engine::Engine> engine;
  std::optional<HttpResponse> refusal;
};
ReadyEngine ready_engine(const ServerContext& ctx, const HttpRequest& req);

// Admission refusals: 503 OVERLOADED / SHUTTING_DOWN, or 400 for a request the context cannot hold.
HttpResponse admission_refusal(const ServerContext& ctx, const HttpRequest& req, const engine::SubmitResult& r);

// The names the served model answers to: --served-model-name's in order, then the model's own name
// (the engine's), each once.
std::vector<std::string> served_model_names(const ServerContext& ctx, const engine::Engine& e);
// A request's `model`, resolved: the name it gave when it names the served model, the first served
// name when it gave none; nullopt for any other name (answered 404 model_not_found).
std::optional<std::string> resolve_model(const ServerContext& ctx, const engine::Engine& e,
                                         const std::optional<std::string>& requested);

// "cmpl-" + 16 hex digits.
std::string random_id(const std::string& prefix);

}  // namespace rbees::server::endpoints
