#pragma once
// Request-body validation that reports every violation at once. A FieldReader reads typed, optional
// fields out of a JSON object and records type errors; the range helpers record out-of-range values.
// Errors render either in the worker protocol's shape ({"errors":[...]}) or OpenAI's ({"error":{...}}).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rbees::server {

struct FieldError {
  std::string field;       // as named in the body, e.g. "stop[2]"; "body" for the whole body
  std::string constraint;  // e.g. "required", "type(string)", "range(1..=2048)"
  std::string message;
  std::optional<nlohmann::json> value;  // the offending value, when small enough to echo
};

using FieldErrors = std::vector<FieldError>;

template <typename T>
struct Parsed {
  std::optional<T> value;  // set when errors is empty
  FieldErrors errors;
  bool ok() const { return errors.empty(); }
};

// {"errors":[{"field","constraint","message","value"?}, ...]}
nlohmann::json worker_error_body(const FieldErrors& errors);

// {"error":{"message","type":"invalid_request_error","param","code"}}: the message lists every
// violation; param and code name the first one.
nlohmann::json openai_error_body(const FieldErrors& errors);
nlohmann::json openai_error_body(std::string_view message, std::string_view type, std::optional<std::string> param,
                                 std::optional<std::string> code);

// Arrays and objects nested deeper are refused while parsing, before the body has become a tree.
constexpr int kMaxJsonDepth = 64;

// Parses a body that must be a JSON object. On failure appends a "body" error ("json" or
// "type(object)") and returns nullopt.
std::optional<nlohmann::json> parse_object_body(std::string_view body, FieldErrors& errors);

// Echoes scalars (numbers, booleans, short strings) only, never long text.
std::optional<nlohmann::json> echo_value(const nlohmann::json& v);

class FieldReader {
 public:
  // `prefix` names the object inside the body ("stream_options." or "messages[1].").
  FieldReader(const nlohmann::json& object, FieldErrors& errors, std::string prefix = "")
      : object_(object), errors_(errors), prefix_(std::move(prefix)) {}

  // Absent and null fields read as nullopt; a `required` one then records "required".
  // A value of the wrong type records "type(...)" and reads as nullopt.
  std::optional<std::string> string(const std::string& name, bool required = false);
  std::optional<int64_t> integer(const std::string& name, bool required = false);  // saturates at int64 bounds
  std::optional<uint64_t> u64(const std::string& name);
  std::optional<double> number(const std::string& name);
  std::optional<bool> boolean(const std::string& name);
  // The raw value, or nullptr when absent or null.
  const nlohmann::json* raw(const std::string& name, bool required = false);

  std::string field(const std::string& name) const { return prefix_ + name; }
  void type_error(const std::string& name, std::string_view type, const nlohmann::json& v);
  FieldErrors& errors() { return errors_; }

 private:
  const nlohmann::json& object_;
  FieldErrors& errors_;
  std::string prefix_;
};

// Range checks; each records "range(lo..=hi)" (formatted like the protocol names it) when violated.
void check_range(FieldErrors& errors, const std::string& field, std::optional<int64_t> v, int64_t lo, int64_t hi);
void check_min(FieldErrors& errors, const std::string& field, std::optional<int64_t> v, int64_t lo);
void check_range(FieldErrors& errors, const std::string& field, std::optional<double> v, double lo, double hi);
// lo < v <= hi, recorded as "range(>lo..=hi)".
void check_range_above(FieldErrors& errors, const std::string& field, std::optional<double> v, double lo, double hi);

// Formats a bound as the constraint names show it: 2 -> "2.0", 0.5 -> "0.5".
std::string format_float_bound(double v);

}  // namespace rbees::server
