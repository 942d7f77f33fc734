#include "server/validation.hpp"

#include <cmath>
#include <limits>
#include <sstream>

namespace rbees::server {

using nlohmann::json;

namespace {

constexpr size_t kMaxEchoedString = 100;

// Thrown by the parser callback to stop at the first array or object nested too deep, before the
// rest of the body has become a tree.
struct TooDeep {};

// The parser's message quotes the token it stopped in (`last read: '...'`, or the number that did not
// fit), which may be most of the body: the refusal quotes its start only, and ASCII only, since the
// bytes may be invalid UTF-8 and would make the error body itself fail to serialize.
std::string parse_error_message(std::string_view what) {
  constexpr std::string_view kLastRead = "last read: '";
  constexpr std::string_view kExpected = "'; expected ";
  std::string message = "malformed JSON: ";
  size_t quote = what.find(kLastRead);
  quote = quote == std::string_view::npos ? what.find('\'') : quote + kLastRead.size() - 1;
  const size_t keep = quote == std::string_view::npos ? what.size() : quote + 1 + kMaxEchoedString;
  if (what.size() <= keep + 200) {
    message.append(what);
  } else {
    message.append(what.substr(0, keep));
    message += "...'";
    // What the parser expected instead, when it follows the quote.
    const size_t expected = what.rfind(kExpected);
    if (expected != std::string_view::npos && expected >= keep && what.size() - expected < 200)
      message.append(what.substr(expected + 1));
  }
  for (char& c : message) {
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  }
  return message;
}

json error_entry(const FieldError& e) {
  json j = {{"field", e.field}, {"constraint", e.constraint}, {"message", e.message}};
  if (e.value) j["value"] = *e.value;
  return j;
}

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return "a non-integer number";
    default: return "a number";
  }
}

}  // namespace

json worker_error_body(const FieldErrors& errors) {
  json list = json::array();
  for (const auto& e : errors) list.push_back(error_entry(e));
  return {{"errors", list}};
}

json openai_error_body(std::string_view message, std::string_view type, std::optional<std::string> param,
                       std::optional<std::string> code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param ? json(*param) : json(nullptr)},
            {"code", code ? json(*code) : json(nullptr)}}}};
}

json openai_error_body(const FieldErrors& errors) {
  std::string message;
  for (const auto& e : errors) {
    if (!message.empty()) message += "; ";
    message += e.field + ": " + e.message;
  }
  if (errors.empty()) return openai_error_body("invalid request", "invalid_request_error", std::nullopt, std::nullopt);
  return openai_error_body(message, "invalid_request_error", errors.front().field, errors.front().constraint);
}

std::optional<json> parse_object_body(std::string_view body, FieldErrors& errors) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    errors.push_back({"body", "required", "the request has no body: a JSON object is expected", std::nullopt});
    return std::nullopt;
  }
  json j;
  try {
    j = json::parse(body, [](int depth, json::parse_event_t event, json&) {
      if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
          depth >= kMaxJsonDepth) {
        throw TooDeep{};
      }
      return true;
    });
  } catch (const TooDeep&) {
    errors.push_back({"body", "json",
                      "malformed JSON: arrays and objects nested more than " + std::to_string(kMaxJsonDepth) + " deep",
                      std::nullopt});
    return std::nullopt;
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    errors.push_back({"body", "json", parse_error_message(e.what()), std::nullopt});
    return std::nullopt;
  }
  if (!j.is_object()) {
    errors.push_back({"body", "type(object)", "the body must be a JSON object, not " + describe(j), std::nullopt});
    return std::nullopt;
  }
  return j;
}

std::optional<json> echo_value(const json& v) {
  if (v.is_number() || v.is_boolean() || v.is_null()) return v;
  if (v.is_string() && v.get_ref<const std::string&>().size() <= kMaxEchoedString) return v;
  return std::nullopt;
}

void FieldReader::type_error(const std::string& name, std::string_view type, const json& v) {
  errors_.push_back({field(name), "type(" + std::string(type) + ")",
                     "must be " + std::string(type == "integer" || type == "array" || type == "object" ? "an " : "a ") +
                         std::string(type) + ", not " + describe(v),
                     echo_value(v)});
}

const json* FieldReader::raw(const std::string& name, bool required) {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) {
    if (required) errors_.push_back({field(name), "required", "is required", std::nullopt});
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> FieldReader::string(const std::string& name, bool required) {
  const json* v = raw(name, required);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    type_error(name, "string", *v);
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<int64_t> FieldReader::integer(const std::string& name, bool required) {
  const json* v = raw(name, required);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned()) {
    const auto u = v->get<uint64_t>();
    return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                          : static_cast<int64_t>(u);
  }
  if (v->is_number_integer()) return v->get<int64_t>();
  type_error(name, "integer", *v);
  return std::nullopt;
}

std::optional<uint64_t> FieldReader::u64(const std::string& name) {
  const json* v = raw(name);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer() && v->get<int64_t>() >= 0) return static_cast<uint64_t>(v->get<int64_t>());
  errors_.push_back({field(name), "type(u64)", "must be an unsigned 64-bit integer", echo_value(*v)});
  return std::nullopt;
}

std::optional<double> FieldReader::number(const std::string& name) {
  const json* v = raw(name);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    type_error(name, "number", *v);
    return std::nullopt;
  }
  return v->get<double>();
}

std::optional<bool> FieldReader::boolean(const std::string& name) {
  const json* v = raw(name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    type_error(name, "boolean", *v);
    return std::nullopt;
  }
  return v->get<bool>();
}

std::string format_float_bound(double v) {
  std::ostringstream s;
  s << v;
  std::string out = s.str();
  if (out.find_first_of(".e") == std::string::npos) out += ".0";
  return out;
}

void check_range(FieldErrors& errors, const std::string& field, std::optional<int64_t> v, int64_t lo, int64_t hi) {
  if (!v || (*v >= lo && *v <= hi)) return;
  errors.push_back({field, "range(" + std::to_string(lo) + "..=" + std::to_string(hi) + ")",
                    "must be between " + std::to_string(lo) + " and " + std::to_string(hi), json(*v)});
}

void check_min(FieldErrors& errors, const std::string& field, std::optional<int64_t> v, int64_t lo) {
  if (!v || *v >= lo) return;
  errors.push_back({field, "range(" + std::to_string(lo) + "..)", "must be at least " + std::to_string(lo), json(*v)});
}

void check_range(FieldErrors& errors, const std::string& field, std::optional<double> v, double lo, double hi) {
  if (!v || (*v >= lo && *v <= hi)) return;
  const std::string l = format_float_bound(lo), h = format_float_bound(hi);
  errors.push_back({field, "range(" + l + "..=" + h + ")", "must be between " + l + " and " + h, json(*v)});
}

void check_range_above(FieldErrors& errors, const std::string& field, std::optional<double> v, double lo, double hi) {
  if (!v || (*v > lo && *v <= hi)) return;
  const std::string l = format_float_bound(lo), h = format_float_bound(hi);
  errors.push_back({field, "range(>" + l + "..=" + h + ")", "must be above " + l + " and at most " + h, json(*v)});
}

}  // namespace rbees::server
