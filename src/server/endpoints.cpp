#include "server/endpoints.hpp"

#include <array>

namespace rbees::server::endpoints {

namespace {

constexpr std::array kRoutes = {
    Route{"GET", "/health", health, false},
    Route{"POST", "/execute", execute, true},
    Route{"POST", "/cancel", cancel, true},
    Route{"POST", "/v1/completions", completions, true},
    Route{"POST", "/v1/chat/completions", chat_completions, true},
    Route{"GET", "/v1/models", models, true},
    Route{"POST", "/tokenize", tokenize, true},
    Route{"POST", "/detokenize", detokenize, true},
    Route{"GET", "/metrics", metrics, true},
};

}  // namespace

const Route* find_route(std::string_view method, std::string_view path) {
  for (const auto& r : kRoutes) {
    if (r.method == method && r.path == path) return &r;
  }
  return nullptr;
}

bool is_known_path(std::string_view path) {
  for (const auto& r : kRoutes) {
    if (r.path == path) return true;
  }
  return false;
}

}  // namespace rbees::server::endpoints
