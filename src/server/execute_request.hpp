#pragma once
// The worker protocol's POST /execute body and POST /cancel body, parsed and validated.

#include "engine/request.hpp"
#include "server/validation.hpp"

#include <string>
#include <string_view>

namespace rbees::server {

// Limits of /execute, as the protocol states them.
struct ExecuteLimits {
  static constexpr size_t kMaxPromptCodePoints = 32768;
  static constexpr int64_t kMaxTokens = 2048;
  static constexpr int64_t kDefaultMaxTokens = 256;
  static constexpr size_t kMaxStops = 4;
  static constexpr size_t kMaxStopBytes = 100;
};

// The prompt is raw text with BOS (no chat template); every violation is listed in `errors`.
Parsed<engine::Request> parse_execute_request(std::string_view body);

struct CancelRequest {
  std::string job_id;
};
Parsed<CancelRequest> parse_cancel_request(std::string_view body);

// Checks a stop list (already known to be an array) element by element, naming elements
// `<field>[i]`. Returns the valid strings.
std::vector<std::string> read_stop_array(const nlohmann::json& array, const std::string& field, FieldErrors& errors);

}  // namespace rbees::server
