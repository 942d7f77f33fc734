// GET /, /chat.js, /chat.css: the chat page, from the files built into the binary. Open without the
// API key: the page asks for it when the server wants one. Its Content-Security-Policy lets it load
// its own script and style sheet and talk to this server only (no inline script, no other origin).
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"
#include "server/web_assets.hpp"

namespace rbees::server {

const WebAsset* find_web_asset(std::string_view path) {
  for (const auto& a : web_assets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

namespace endpoints {

Reply page(ServerContext&, HttpRequest& req) {
  const WebAsset* asset = find_web_asset(req.path);
  if (!asset) return {not_found(req.method, req.path), std::nullopt};
  HttpResponse r;
  r.content_type = std::string(asset->content_type);
  r.body = std::string(asset->body);
  r.headers = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      // Served from memory: a new binary's page is taken at once.
      {"Cache-Control", "no-cache"},
  };
  return {r, std::nullopt};
}

}  // namespace endpoints

}  // namespace rbees::server
