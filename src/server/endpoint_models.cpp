// GET /v1/models: the one model this worker serves.
#include "server/endpoint_support.hpp"
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"

namespace rbees::server::endpoints {

Reply models(ServerContext& ctx, HttpRequest& req) {
  auto ready = ready_engine(ctx, req);
  if (!ready.engine) return {*ready.refusal, std::nullopt};
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(ctx.started_wall.time_since_epoch()).count();
  return {json_response(200, {{"object", "list"},
                              {"data", nlohmann::json::array({{{"id", ready.engine->health().model},
                                                               {"object", "model"},
                                                               {"created", created},
                                                               {"owned_by", "rbees-workerd"}}})}}),
          std::nullopt};
}

}  // namespace rbees::server::endpoints
