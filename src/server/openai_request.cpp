#include "server/openai_request.hpp"

#include "server/execute_request.hpp"
#include "server/grammar_request.hpp"

#include <limits>
#include <set>

namespace rbees::server {

using nlohmann::json;

namespace {

constexpr int64_t kMaxLogprobs = 20;

// Token ids as a JSON array of non-negative 32-bit integers.
std::optional<std::vector<int32_t>> read_token_ids(const json& array, const std::string& field, FieldErrors& errors) {
  std::vector<int32_t> ids;
  bool ok = true;
  for (size_t i = 0; i < array.size(); ++i) {
    const json& v = array[i];
    const std::string name = field + "[" + std::to_string(i) + "]";
    if (!v.is_number_integer()) {
      errors.push_back({name, "type(integer)", "must be a token id", echo_value(v)});
      ok = false;
    } else if (v.is_number_unsigned() ? v.get<uint64_t>() > INT32_MAX : v.get<int64_t>() < 0) {
      errors.push_back({name, "range(0..=2147483647)", "must be a token id", v});
      ok = false;
    } else {
      ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
  }
  return ok ? std::optional(ids) : std::nullopt;
}

// The sampling and stopping fields both OpenAI endpoints share, plus common extensions.
void read_common(FieldReader& r, OpenAiRequest& out) {
  auto& req = out.request;
  FieldErrors& errors = r.errors();

  out.model = r.string("model");

  const auto n = r.integer("n");
  if (n && *n != 1) errors.push_back({"n", "range(1..=1)", "only n = 1 is supported", json(*n)});

  const auto temperature = r.number("temperature");
  check_range(errors, "temperature", temperature, 0.0, 2.0);
  req.sampling.temperature = static_cast<float>(temperature.value_or(1.0));

  const auto top_p = r.number("top_p");
  check_range(errors, "top_p", top_p, 0.0, 1.0);
  req.sampling.top_p = static_cast<float>(top_p.value_or(1.0));

  const auto top_k = r.integer("top_k");
  check_min(errors, "top_k", top_k, 0);
  req.sampling.top_k = static_cast<int32_t>(std::min<int64_t>(top_k.value_or(0), INT32_MAX));

  const auto min_p = r.number("min_p");
  check_range(errors, "min_p", min_p, 0.0, 1.0);
  req.sampling.min_p = static_cast<float>(min_p.value_or(0.0));

  const auto repetition_penalty = r.number("repetition_penalty");
  check_range_above(errors, "repetition_penalty", repetition_penalty, 0.0, 2.0);
  req.sampling.repetition_penalty = static_cast<float>(repetition_penalty.value_or(1.0));

  const auto presence = r.number("presence_penalty");
  check_range(errors, "presence_penalty", presence, -2.0, 2.0);
  req.sampling.presence_penalty = static_cast<float>(presence.value_or(0.0));

  const auto frequency = r.number("frequency_penalty");
  check_range(errors, "frequency_penalty", frequency, -2.0, 2.0);
  req.sampling.frequency_penalty = static_cast<float>(frequency.value_or(0.0));

  // OpenAI's seed is a signed 64-bit integer; its bits seed the generator.
  if (const json* seed = r.raw("seed")) {
    if (seed->is_number_unsigned()) {
      req.sampling.seed = seed->get<uint64_t>();
    } else if (seed->is_number_integer()) {
      req.sampling.seed = static_cast<uint64_t>(seed->get<int64_t>());
    } else {
      r.type_error("seed", "integer", *seed);
    }
  }

  if (const json* bias = r.raw("logit_bias")) {
    if (!bias->is_object()) {
      r.type_error("logit_bias", "object", *bias);
    } else {
      for (const auto& [key, value] : bias->items()) {
        const std::string name = "logit_bias." + key;
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
        req.sampling.logit_bias[static_cast<int32_t>(id)] = static_cast<float>(b);
      }
    }
  }

  if (const json* stop = r.raw("stop")) {
    if (stop->is_string()) {
      req.stop = read_stop_array(json::array({*stop}), "stop", errors);
    } else if (stop->is_array()) {
      req.stop = read_stop_array(*stop, "stop", errors);
    } else {
      r.type_error("stop", "string or array", *stop);
    }
  }

  out.stream = r.boolean("stream").value_or(false);
  if (const json* options = r.raw("stream_options")) {
    if (!options->is_object()) {
      r.type_error("stream_options", "object", *options);
    } else {
      FieldReader o(*options, errors, "stream_options.");
      out.include_usage = o.boolean("include_usage").value_or(false);
    }
  }
  req.ignore_eos = r.boolean("ignore_eos").value_or(false);
}

// Fields read_common() and read_grammar_fields() take, on both endpoints.
const std::set<std::string> kCommonFields = {
    "model", "n", "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty",
    "frequency_penalty", "seed", "logit_bias", "stop", "stream", "stream_options", "ignore_eos", "max_tokens",
    "response_format", "grammar", "json_schema",
    // Accepted and ignored: an end-user identifier, which changes nothing in the output (README).
    "user"};

// A field this server does not implement is refused, as OpenAI's API does, rather than ignored.
void reject_unknown(const json& object, const std::set<std::string>& own, const std::string& prefix,
                    FieldErrors& errors) {
  for (const auto& [key, value] : object.items()) {
    if (!kCommonFields.count(key) && !own.count(key)) {
      errors.push_back(
          {prefix + key, "unknown_field", "Unrecognized request argument supplied: " + prefix + key, std::nullopt});
    }
  }
}

void read_max_tokens(FieldReader& r, const std::string& name, engine::Request& req) {
  const auto v = r.integer(name);
  check_min(r.errors(), name, v, 1);
  if (v) req.max_tokens = static_cast<int32_t>(std::min<int64_t>(*v, INT32_MAX));
}

}  // namespace

Parsed<OpenAiRequest> parse_completion_request(std::string_view body) {
  Parsed<OpenAiRequest> out;
  auto object = parse_object_body(body, out.errors);
  if (!object) return out;
  FieldReader r(*object, out.errors);
  OpenAiRequest req;

  if (const json* prompt = r.raw("prompt", true)) {
    const json* p = prompt;
    std::string field = "prompt";
    // A batch of one prompt is accepted as that prompt.
    if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array())) {
      p = &(*p)[0];
      field = "prompt[0]";
    }
    if (p->is_string()) {
      req.request.prompt = engine::TextPrompt{p->get<std::string>(), true};
    } else if (p->is_array() && !p->empty()) {
      if (auto ids = read_token_ids(*p, field, out.errors)) req.request.prompt = engine::TokenPrompt{std::move(*ids)};
    } else if (p->is_array()) {
      out.errors.push_back({field, "non_empty", "must not be empty", std::nullopt});
    } else {
      r.type_error("prompt", "string or array", *p);
    }
  }

  read_max_tokens(r, "max_tokens", req.request);
  read_common(r, req);
  read_grammar_fields(r, body, req.request, true);

  if (const json* logprobs = r.raw("logprobs")) {
    if (logprobs->is_number_integer()) {
      const auto v = r.integer("logprobs");
      check_range(out.errors, "logprobs", v, 0, kMaxLogprobs);
      if (v) req.request.logprobs = static_cast<int32_t>(*v);
    } else {
      r.type_error("logprobs", "integer", *logprobs);
    }
  }
  req.request.echo = r.boolean("echo").value_or(false);

  reject_unknown(*object, {"prompt", "logprobs", "echo", "best_of"}, "", out.errors);

  const auto best_of = r.integer("best_of");
  if (best_of && *best_of != 1) {
    out.errors.push_back({"best_of", "range(1..=1)", "only best_of = 1 is supported", json(*best_of)});
  }

  if (out.errors.empty()) out.value = std::move(req);
  return out;
}

Parsed<OpenAiRequest> parse_chat_completion_request(std::string_view body) {
  Parsed<OpenAiRequest> out;
  auto object = parse_object_body(body, out.errors);
  if (!object) return out;
  FieldReader r(*object, out.errors);
  OpenAiRequest req;

  engine::ChatPrompt chat;
  if (const json* messages = r.raw("messages", true)) {
    if (!messages->is_array()) {
      r.type_error("messages", "array", *messages);
    } else if (messages->empty()) {
      out.errors.push_back({"messages", "non_empty", "must list at least one message", std::nullopt});
    } else {
      for (size_t i = 0; i < messages->size(); ++i) {
        const json& m = (*messages)[i];
        const std::string prefix = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) {
          out.errors.push_back({prefix, "type(object)", "must be an object", echo_value(m)});
          continue;
        }
        FieldReader mr(m, out.errors, prefix + ".");
        // tool_calls, tool_call_id and the like are refused until tools are implemented.
        for (const auto& [key, value] : m.items()) {
          if (key != "role" && key != "content" && key != "name") {
            out.errors.push_back({prefix + "." + key, "unknown_field",
                                  "Unrecognized request argument supplied: " + prefix + "." + key, std::nullopt});
          }
        }
        const auto name = mr.string("name");
        auto role = mr.string("role", true);
        if (role && role->empty()) out.errors.push_back({prefix + ".role", "non_empty", "must not be empty", json("")});
        std::string content;
        if (const json* c = mr.raw("content")) {
          if (c->is_string()) {
            content = c->get<std::string>();
          } else if (c->is_array()) {
            for (size_t k = 0; k < c->size(); ++k) {
              const json& part = (*c)[k];
              const std::string pname = prefix + ".content[" + std::to_string(k) + "]";
              if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
                  !part["text"].is_string()) {
                out.errors.push_back(
                    {pname, "text_part", "only {\"type\":\"text\",\"text\":...} parts are supported", std::nullopt});
                continue;
              }
              content += part["text"].get<std::string>();
            }
          } else {
            mr.type_error("content", "string or array", *c);
          }
        }
        if (role) {
          json message = {{"role", *role}, {"content", content}};
          if (name) message["name"] = *name;  // for templates that show the speaker's name
          chat.messages.push_back(std::move(message));
        }
      }
    }
  }
  req.request.prompt = std::move(chat);

  // max_completion_tokens supersedes the older max_tokens.
  read_max_tokens(r, "max_tokens", req.request);
  read_max_tokens(r, "max_completion_tokens", req.request);
  read_common(r, req);
  read_grammar_fields(r, body, req.request, true);
  reject_unknown(*object, {"messages", "max_completion_tokens", "logprobs", "top_logprobs"}, "", out.errors);

  const bool logprobs = r.boolean("logprobs").value_or(false);
  const auto top = r.integer("top_logprobs");
  check_range(out.errors, "top_logprobs", top, 0, kMaxLogprobs);
  if (top && !logprobs) {
    out.errors.push_back({"top_logprobs", "requires(logprobs)", "needs logprobs set to true", json(*top)});
  }
  if (logprobs) req.request.logprobs = static_cast<int32_t>(top.value_or(0));

  if (out.errors.empty()) out.value = std::move(req);
  return out;
}

Parsed<TokenizeRequest> parse_tokenize_request(std::string_view body) {
  Parsed<TokenizeRequest> out;
  auto object = parse_object_body(body, out.errors);
  if (!object) return out;
  FieldReader r(*object, out.errors);
  auto content = r.string("content", true);
  const bool add_special = r.boolean("add_special").value_or(false);
  if (out.errors.empty()) out.value = TokenizeRequest{std::move(*content), add_special};
  return out;
}

Parsed<DetokenizeRequest> parse_detokenize_request(std::string_view body) {
  Parsed<DetokenizeRequest> out;
  auto object = parse_object_body(body, out.errors);
  if (!object) return out;
  FieldReader r(*object, out.errors);
  std::vector<int32_t> ids;
  if (const json* tokens = r.raw("tokens", true)) {
    if (!tokens->is_array()) {
      r.type_error("tokens", "array", *tokens);
    } else if (auto parsed = read_token_ids(*tokens, "tokens", out.errors)) {
      ids = std::move(*parsed);
    }
  }
  if (out.errors.empty()) out.value = DetokenizeRequest{std::move(ids)};
  return out;
}

}  // namespace rbees::server
