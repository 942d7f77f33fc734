#include "server/sampling_request.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

namespace rbees::server {

using nlohmann::json;

namespace {

void read_logit_bias(FieldReader& r, sampling::SamplingParams& out) {
  const json* bias = r.raw("logit_bias");
  if (!bias) return;
  if (!bias->is_object()) return r.type_error("logit_bias", "object", *bias);
  FieldErrors& errors = r.errors();
  for (const auto& [key, value] : bias->items()) {
    const std::string name = r.field("logit_bias." + key);
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != key.size() || id < 0 || id > INT32_MAX) {
      errors.push_back({name, "token_id", "keys must be token ids", json(key)});
      continue;
    }
    if (!value.is_number()) {
      errors.push_back({name, "type(number)", "must be a number", echo_value(value)});
      continue;
    }
    const double b = value.get<double>();
    check_range(errors, name, std::optional(b), -100.0, 100.0);
    out.logit_bias[static_cast<int32_t>(id)] = static_cast<float>(b);
  }
}

}  // namespace

void read_sampling_fields(FieldReader& r, sampling::SamplingParams& out) {
  FieldErrors& errors = r.errors();

  const auto temperature = r.number("temperature");
  check_range(errors, "temperature", temperature, 0.0, 2.0);
  out.temperature = static_cast<float>(temperature.value_or(1.0));

  const auto top_p = r.number("top_p");
  check_range(errors, "top_p", top_p, 0.0, 1.0);
  out.top_p = static_cast<float>(top_p.value_or(1.0));

  const auto top_k = r.integer("top_k");
  check_min(errors, "top_k", top_k, 0);
  out.top_k = static_cast<int32_t>(std::min<int64_t>(top_k.value_or(0), INT32_MAX));

  const auto min_p = r.number("min_p");
  check_range(errors, "min_p", min_p, 0.0, 1.0);
  out.min_p = static_cast<float>(min_p.value_or(0.0));

  const auto repetition_penalty = r.number("repetition_penalty");
  check_range_above(errors, "repetition_penalty", repetition_penalty, 0.0, 2.0);
  out.repetition_penalty = static_cast<float>(repetition_penalty.value_or(1.0));

  const auto presence = r.number("presence_penalty");
  check_range(errors, "presence_penalty", presence, -2.0, 2.0);
  out.presence_penalty = static_cast<float>(presence.value_or(0.0));

  const auto frequency = r.number("frequency_penalty");
  check_range(errors, "frequency_penalty", frequency, -2.0, 2.0);
  out.frequency_penalty = static_cast<float>(frequency.value_or(0.0));

  read_logit_bias(r, out);
}

}  // namespace rbees::server
