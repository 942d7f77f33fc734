// GET /v1/models and GET /v1/models/{id}: the one model this worker serves, under each name it
// answers to.
#include "server/endpoint_support.hpp"
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"
#include "server/percent_decode.hpp"

namespace rbees::server::endpoints {

namespace {

nlohmann::json model_object(const ServerContext& ctx, const std::string& id) {
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(ctx.started_wall.time_since_epoch()).count();
  return {{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "rbees-workerd"}};
}

}  // namespace

Reply models(ServerContext& ctx, HttpRequest& req) {
  auto ready = ready_engine(ctx, req);
  if (!ready.engine) return {*ready.refusal, std::nullopt};
  nlohmann::json data = nlohmann::json::array();
  for (const auto& name : served_model_names(ctx, *ready.engine)) data.push_back(model_object(ctx, name));
  return {json_response(200, {{"object", "list"}, {"data", std::move(data)}}), std::nullopt};
}

Reply model(ServerContext& ctx, HttpRequest& req) {
  auto ready = ready_engine(ctx, req);
  if (!ready.engine) return {*ready.refusal, std::nullopt};
  // Clients percent-encode the id as one path segment (a name such as "org/model" comes as
  // "org%2Fmodel").
  const std::string id = percent_decode(req.path.substr(std::string_view("/v1/models/").size()));
  const auto names = served_model_names(ctx, *ready.engine);
  if (std::find(names.begin(), names.end(), id) == names.end()) return {model_not_found(id), std::nullopt};
  return {json_response(200, model_object(ctx, id)), std::nullopt};
}

}  // namespace rbees::server::endpoints
