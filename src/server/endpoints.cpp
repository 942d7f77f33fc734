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
    Route{"GET", "/v1/models/{id}", model, true},
    Route{"POST", "/tokenize", tokenize, true},
    Route{"POST", "/detokenize", detokenize, true},
    Route{"GET", "/metrics", metrics, true},
    // The chat page asks for the key itself, so it loads without one.
    Route{"GET", "/", page, false},
    Route{"GET", "/chat.js", page, false},
    Route{"GET", "/chat.css", page, false},
};

constexpr std::string_view kIdSegment = "{id}";

bool matches(std::string_view pattern, std::string_view path) {
  if (!pattern.ends_with(kIdSegment)) return pattern == path;
  const std::string_view prefix = pattern.substr(0, pattern.size() - kIdSegment.size());
  return path.size() > prefix.size() && path.starts_with(prefix);
}

// Browsers send preflights without credentials, whatever the request they announce.
constexpr Route kOptions{"OPTIONS", "", options, false};

}  // namespace

const Route* find_route(std::string_view method, std::string_view path) {
  for (const auto& r : kRoutes) {
    if (r.method == method && matches(r.path, path)) return &r;
  }
  if (method == "OPTIONS" && is_known_path(path)) return &kOptions;
  return nullptr;
}

bool is_known_path(std::string_view path) {
  return metrics_path(path) != "other";
}

std::string_view metrics_path(std::string_view path) {
  for (const auto& r : kRoutes) {
    if (matches(r.path, path)) return r.path;
  }
  return "other";
}

bool path_needs_key(std::string_view path) {
  if (!is_known_path(path)) return true;
  for (const auto& r : kRoutes) {
    if (matches(r.path, path) && r.needs_key) return true;
  }
  return false;
}

std::string allowed_methods(std::string_view path) {
  std::string out;
  for (const auto& r : kRoutes) {
    if (!matches(r.path, path)) continue;
    out += r.method;
    out += ", ";
  }
  return out + "OPTIONS";
}

}  // namespace rbees::server::endpoints
