#include "server/execute_request.hpp"

#include "server/grammar_request.hpp"
#include "server/sampling_request.hpp"
#include "server/utf8.hpp"

namespace rbees::server {

using nlohmann::json;

std::vector<std::string> read_stop_array(const json& array, const std::string& field, FieldErrors& errors) {
  std::vector<std::string> out;
  if (array.size() > ExecuteLimits::kMaxStops) {
    errors.push_back({field, "max_count(" + std::to_string(ExecuteLimits::kMaxStops) + ")",
                      "at most " + std::to_string(ExecuteLimits::kMaxStops) + " stop strings are allowed",
                      json(array.size())});
  }
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string name = field + "[" + std::to_string(i) + "]";
    const json& s = array[i];
    if (!s.is_string()) {
      errors.push_back({name, "type(string)", "must be a string", echo_value(s)});
      continue;
    }
    const auto& text = s.get_ref<const std::string&>();
    if (text.empty()) {
      errors.push_back({name, "min_length(1)", "must not be empty", s});
    } else if (text.size() > ExecuteLimits::kMaxStopBytes) {
      errors.push_back({name, "max_length(" + std::to_string(ExecuteLimits::kMaxStopBytes) + ")",
                        "must be at most " + std::to_string(ExecuteLimits::kMaxStopBytes) + " bytes long",
                        json(text.size())});
    } else {
      out.push_back(text);
    }
  }
  return out;
}

Parsed<engine::Request> parse_execute_request(std::string_view body) {
  Parsed<engine::Request> out;
  auto object = parse_object_body(body, out.errors);
  if (!object) return out;
  FieldReader r(*object, out.errors);
  engine::Request req;

  if (auto job_id = r.string("job_id", true)) {
    if (job_id->empty()) out.errors.push_back({"job_id", "non_empty", "must not be empty", json("")});
    req.job_id = std::move(*job_id);
  }

  if (auto prompt = r.string("prompt", true)) {
    const auto n = count_code_points(*prompt);
    if (!n) {
      out.errors.push_back({"prompt", "utf8", "must be valid UTF-8", std::nullopt});
    } else if (*n < 1 || *n > ExecuteLimits::kMaxPromptCodePoints) {
      out.errors.push_back({"prompt", "length(1..=" + std::to_string(ExecuteLimits::kMaxPromptCodePoints) + ")",
                            "must be 1 to " + std::to_string(ExecuteLimits::kMaxPromptCodePoints) +
                                " Unicode code points long, not " + std::to_string(*n),
                            std::nullopt});
    }
    req.prompt = engine::TextPrompt{std::move(*prompt), true};
  }

  const auto max_tokens = r.integer("max_tokens");
  check_range(out.errors, "max_tokens", max_tokens, 1, ExecuteLimits::kMaxTokens);
  req.max_tokens = static_cast<int32_t>(max_tokens.value_or(ExecuteLimits::kDefaultMaxTokens));

  read_sampling_fields(r, req.sampling);
  req.sampling.seed = r.u64("seed");
  req.ignore_eos = r.boolean("ignore_eos").value_or(false);

  if (const json* stop = r.raw("stop")) {
    if (stop->is_array()) {
      req.stop = read_stop_array(*stop, "stop", out.errors);
    } else {
      r.type_error("stop", "array", *stop);
    }
  }
  read_grammar_fields(r, body, req, false);

  if (out.errors.empty()) out.value = std::move(req);
  return out;
}

Parsed<CancelRequest> parse_cancel_request(std::string_view body) {
  Parsed<CancelRequest> out;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    out.errors.push_back({"job_id", "required",
                          "is required: the request has no body; send a JSON object such as {\"job_id\": \"j1\"}",
                          std::nullopt});
    return out;
  }
  auto object = parse_object_body(body, out.errors);
  if (!object) return out;
  FieldReader r(*object, out.errors);
  auto job_id = r.string("job_id", true);
  if (job_id && job_id->empty()) out.errors.push_back({"job_id", "non_empty", "must not be empty", json("")});
  if (out.errors.empty()) out.value = CancelRequest{*job_id};
  return out;
}

}  // namespace rbees::server
