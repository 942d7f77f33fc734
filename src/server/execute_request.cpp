#include "server/execute_request.hpp"

#include "server/grammar_request.hpp"
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

  const auto temperature = r.number("temperature");
  check_range(out.errors, "temperature", temperature, 0.0, 2.0);
  req.sampling.temperature = static_cast<float>(temperature.value_or(1.0));

  req.sampling.seed = r.u64("seed");

  const auto top_p = r.number("top_p");
  check_range(out.errors, "top_p", top_p, 0.0, 1.0);
  req.sampling.top_p = static_cast<float>(top_p.value_or(1.0));

  const auto top_k = r.integer("top_k");
  check_min(out.errors, "top_k", top_k, 0);
  req.sampling.top_k = static_cast<int32_t>(std::min<int64_t>(top_k.value_or(0), INT32_MAX));

  const auto repetition_penalty = r.number("repetition_penalty");
  check_range_above(out.errors, "repetition_penalty", repetition_penalty, 0.0, 2.0);
  req.sampling.repetition_penalty = static_cast<float>(repetition_penalty.value_or(1.0));

  const auto min_p = r.number("min_p");
  check_range(out.errors, "min_p", min_p, 0.0, 1.0);
  req.sampling.min_p = static_cast<float>(min_p.value_or(0.0));

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
  auto object = parse_object_body(body, out.errors);
  if (!object) return out;
  FieldReader r(*object, out.errors);
  auto job_id = r.string("job_id", true);
  if (job_id && job_id->empty()) out.errors.push_back({"job_id", "non_empty", "must not be empty", json("")});
  if (out.errors.empty()) out.value = CancelRequest{*job_id};
  return out;
}

}  // namespace rbees::server
