#pragma once
// API keys: `Authorization: Bearer <key>` compared in constant time.

#include <optional>
#include <string>
#include <string_view>

namespace rbees::server {

// Compares every byte of the longer string whatever the first mismatch, so the time taken does
// not tell how much of a guess was right.
bool constant_time_equals(std::string_view a, std::string_view b);

// Reads a key file: the whole file with trailing whitespace (newline, CR) trimmed. Throws
// std::runtime_error when the file cannot be read or holds an empty key.
std::string read_api_key_file(const std::string& path);

class ApiKeyCheck {
 public:
  // No key: every request is allowed.
  explicit ApiKeyCheck(std::optional<std::string> key = std::nullopt) : key_(std::move(key)) {}

  bool enabled() const { return key_.has_value(); }
  // `authorization` is the Authorization header's value (empty when absent).
  bool allows(std::string_view authorization) const;

 private:
  std::optional<std::string> key_;
};

}  // namespace rbees::server
