// OPTIONS on any known path: 204 with Allow. A browser's preflight (Origin and
// Access-Control-Request-Method) from an origin --cors-origin allows also gets the CORS headers; from
// another origin, while CORS is on, 403 naming the origin. Never needs the API key: browsers send
// preflights without it.
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"

#include <algorithm>

namespace rbees::server::endpoints {

Reply options(ServerContext& ctx, HttpRequest& req) {
  const std::string methods = allowed_methods(req.path);
  const std::string_view origin = req.header("Origin");
  const bool preflight = !origin.empty() && !req.header("Access-Control-Request-Method").empty();
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  r.headers.emplace_back("Allow", methods);
  if (!preflight || !ctx.cors.enabled()) return {r, std::nullopt};
  HeaderList cors = ctx.cors.preflight_headers(origin, methods);
  const bool allowed =
      std::any_of(cors.begin(), cors.end(), [](const auto& h) { return h.first == "Access-Control-Allow-Origin"; });
  if (!allowed) {
    HttpResponse refused = json_response(
        403, {{"code", "FORBIDDEN"},
              {"message", "origin " + std::string(origin) + " is not one of the allowed origins (--cors-origin)"},
              {"retriable", false}});
    refused.headers = std::move(cors);  // Vary: Origin
    return {refused, std::nullopt};
  }
  r.headers.insert(r.headers.end(), cors.begin(), cors.end());
  return {r, std::nullopt};
}

}  // namespace rbees::server::endpoints
