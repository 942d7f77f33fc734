#pragma once
// The API's endpoints, one named handler each (endpoint_<name>.cpp), and the table that routes a
// method and path to them. A handler runs on a front-end thread with the request read whole; it
// must not wait on the engine: a reply that follows a job returns an EngineReply instead.

#include "server/http_message.hpp"
#include "server/server_context.hpp"

#include <string_view>

namespace rbees::server::endpoints {

Reply health(ServerContext& ctx, HttpRequest& req);            // GET /health
Reply execute(ServerContext& ctx, HttpRequest& req);           // POST /execute
Reply cancel(ServerContext& ctx, HttpRequest& req);            // POST /cancel
Reply completions(ServerContext& ctx, HttpRequest& req);       // POST /v1/completions
Reply chat_completions(ServerContext& ctx, HttpRequest& req);  // POST /v1/chat/completions
Reply models(ServerContext& ctx, HttpRequest& req);            // GET /v1/models
Reply model(ServerContext& ctx, HttpRequest& req);             // GET /v1/models/{id}
Reply tokenize(ServerContext& ctx, HttpRequest& req);          // POST /tokenize
Reply detokenize(ServerContext& ctx, HttpRequest& req);        // POST /detokenize
Reply metrics(ServerContext& ctx, HttpRequest& req);           // GET /metrics
Reply page(ServerContext& ctx, HttpRequest& req);              // GET /, /chat.js, /chat.css
Reply options(ServerContext& ctx, HttpRequest& req);           // OPTIONS on any known path

using Handler = Reply (*)(ServerContext&, HttpRequest&);

struct Route {
  std::string_view method;
  std::string_view path;  // a last segment "{id}" matches any non-empty rest of the path
  Handler handle;
  bool needs_key;  // every endpoint but /health, OPTIONS and the chat page, when an API key is set
};

// The route for a method and path, or nullptr. OPTIONS is routed on every known path.
const Route* find_route(std::string_view method, std::string_view path);
// Whether any route has this path.
bool is_known_path(std::string_view path);
// The metrics' endpoint label: the route's path as written above ("/v1/models/{id}"), so that ids
// do not make new series, or "other".
std::string_view metrics_path(std::string_view path);
// Whether a request to this path needs the API key whatever its method: false only for paths whose
// every route is open, so that an unknown path or method tells nothing to a caller without the key.
bool path_needs_key(std::string_view path);
// The methods a known path answers, for Allow and Access-Control-Allow-Methods: "POST, OPTIONS".
std::string allowed_methods(std::string_view path);

}  // namespace rbees::server::endpoints
