#include "server/cors.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace rbees::server {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

std::optional<std::string> invalid_cors_origin(std::string_view origin) {
  if (origin == "*") return std::nullopt;
  const size_t sep = origin.find("://");
  if (sep == std::string_view::npos) return "an origin is `*` or scheme://host[:port], e.g. http://localhost:3000";
  const std::string scheme = lower(origin.substr(0, sep));
  if (scheme != "http" && scheme != "https") return "the scheme must be http or https";
  const std::string_view authority = origin.substr(sep + 3);
  if (authority.empty()) return "the host is missing";
  if (authority.find_first_of("/?#") != std::string_view::npos) {
    return "an origin has no path, query or trailing slash (browsers send scheme://host[:port])";
  }
  if (authority.find_first_of(" \t,*@") != std::string_view::npos) return "the host is not a host name";
  return std::nullopt;
}

CorsPolicy::CorsPolicy(std::vector<std::string> origins) {
  for (const auto& o : origins) {
    if (auto why = invalid_cors_origin(o)) throw std::invalid_argument("--cors-origin " + o + ": " + *why);
    if (o == "*") {
      any_ = true;
    } else {
      origins_.push_back(lower(o));
    }
  }
  if (any_ && !origins_.empty()) {
    throw std::invalid_argument("--cors-origin: `*` allows every origin and cannot be combined with a list");
  }
}

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty()) return false;
  if (any_) return true;
  const std::string o = lower(origin);
  return std::find(origins_.begin(), origins_.end(), o) != origins_.end();
}

HeaderList CorsPolicy::response_headers(std::string_view origin) const {
  HeaderList h;
  if (!enabled()) return h;
  // With a list, the answer depends on the Origin header: caches must keep one per origin.
  if (!any_) h.emplace_back("Vary", "Origin");
  if (!allows(origin)) return h;
  h.emplace_back("Access-Control-Allow-Origin", any_ ? std::string("*") : std::string(origin));
  return h;
}

HeaderList CorsPolicy::preflight_headers(std::string_view origin, std::string_view methods) const {
  HeaderList h = response_headers(origin);
  if (!allows(origin)) return h;
  h.emplace_back("Access-Control-Allow-Methods", std::string(methods));
  h.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type");
  h.emplace_back("Access-Control-Max-Age", std::to_string(kMaxAgeSeconds));
  return h;
}

}  // namespace rbees::server
