#pragma once
// Cross-origin access for browsers (--cors-origin): which pages of another origin may call the API,
// the preflight answer for every endpoint, and the Access-Control-Allow-Origin a response carries.
// Off by default: no CORS header is ever sent, and a browser page of another origin cannot read
// any answer.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rbees::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Why an --cors-origin value is not an origin (`*`, or scheme://host[:port] without a path), or
// nullopt when it is one.
std::optional<std::string> invalid_cors_origin(std::string_view origin);

class CorsPolicy {
 public:
  // Empty: off. Each entry is `*` (any origin) or an origin; throws std::invalid_argument for
  // anything else, naming the value.
  explicit CorsPolicy(std::vector<std::string> origins = {});

  bool enabled() const { return any_ || !origins_.empty(); }

  // The headers that let the page of `origin` (the request's Origin header, empty when absent)
  // read a response: Access-Control-Allow-Origin, and Vary: Origin when the answer depends on it.
  // Empty when CORS is off or the origin is not allowed.
  HeaderList response_headers(std::string_view origin) const;

  // A preflight's extra headers for a path answering `methods` ("GET, OPTIONS"): the above plus the
  // methods, the request headers a page may send (Authorization, Content-Type) and how long a
  // browser may keep the answer. Empty when the origin is not allowed.
  HeaderList preflight_headers(std::string_view origin, std::string_view methods) const;

  // How long a browser may cache a preflight (Chromium keeps at most 2 hours).
  static constexpr int kMaxAgeSeconds = 7200;

 private:
  bool allows(std::string_view origin) const;

  bool any_ = false;
  std::vector<std::string> origins_;  // lower case
};

}  // namespace rbees::server
