#include "server/openai_request.hpp"

#include "server/execute_request.hpp"
#include "server/grammar_request.hpp"
#include "server/sampling_request.hpp"

#include <limits>
#include <set>

namespace rbees::server {

using nlohmann::json;

namespace {

constexpr int64_t kMaxLogprobs = 20;
// A request's choices are bounded first by the engine's slots and queue (the endpoint checks);
// this bound only keeps a count from overflowing.
constexpr int64_t kMaxChoices = 1024;
constexpr size_t kMaxPrompts = 1024;

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
  check_range(errors, "n", n, 1, kMaxChoices);
  if (n && *n >= 1 && *n <= kMaxChoices) out.n = static_cast<int>(*n);

  read_sampling_fields(r, req.sampling);

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
      for (const auto& [key, value] : options->items()) {
        if (key != "include_usage") {
          errors.push_back({"stream_options." + key, "unknown_field",
                            "Unrecognized request argument supplied: stream_options." + key, std::nullopt});
        }
      }
    }
  }
  req.ignore_eos = r.boolean("ignore_eos").value_or(false);
}

// The roles OpenAI's chat API defines; a template would render any other one as a turn it was
// never trained on.
const std::set<std::string> kRoles = {"system", "developer", "user", "assistant", "tool"};

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

// One prompt: a string, or a non-empty array of token ids.
void read_prompt(const json& p, const std::string& field, std::vector<engine::Prompt>& out, FieldErrors& errors) {
  if (p.is_string()) {
    out.push_back(engine::TextPrompt{p.get<std::string>(), true});
  } else if (p.is_array() && !p.empty()) {
    if (auto ids = read_token_ids(p, field, errors)) out.push_back(engine::TokenPrompt{std::move(*ids)});
  } else if (p.is_array()) {
    errors.push_back({field, "non_empty", "must not be empty", std::nullopt});
  } else {
    errors.push_back({field, "type(string or array)", "must be a string or an array of token ids", echo_value(p)});
  }
}

// A prompt, or a batch of them: an array whose elements are strings or token-id arrays.
void read_prompts(const json& prompt, std::vector<engine::Prompt>& out, FieldErrors& errors) {
  const bool batch = prompt.is_array() && !prompt.empty() && (prompt[0].is_string() || prompt[0].is_array());
  if (!batch) return read_prompt(prompt, "prompt", out, errors);
  if (prompt.size() > kMaxPrompts) {
    errors.push_back({"prompt", "max_count(" + std::to_string(kMaxPrompts) + ")",
                      "at most " + std::to_string(kMaxPrompts) + " prompts are allowed", json(prompt.size())});
    return;
  }
  for (size_t i = 0; i < prompt.size(); ++i) {
    const json& p = prompt[i];
    const std::string field = "prompt[" + std::to_string(i) + "]";
    if (!p.is_string() && !p.is_array()) {
      errors.push_back({field, "type(string or array)", "a batch holds strings or token-id arrays", echo_value(p)});
      continue;
    }
    read_prompt(p, field, out, errors);
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

  if (const json* prompt = r.raw("prompt", true)) read_prompts(*prompt, req.prompts, out.errors);

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

  // best_of > n (several samples, the best n returned) is not implemented.
  const auto best_of = r.integer("best_of");
  if (best_of && *best_of != req.n) {
    out.errors.push_back({"best_of", "equals(n)",
                          "only best_of equal to n (" + std::to_string(req.n) + ") is supported", json(*best_of)});
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
        for (const auto& [key, value] : m.items()) {
          if (key != "role" && key != "content" && key != "name" && key != "tool_calls" && key != "tool_call_id") {
            out.errors.push_back({prefix + "." + key, "unknown_field",
                                  "Unrecognized request argument supplied: " + prefix + "." + key, std::nullopt});
          }
        }
        const auto name = mr.string("name");
        auto role = mr.string("role", true);
        if (role && !kRoles.count(*role)) {
          out.errors.push_back({prefix + ".role", "one_of(system,developer,user,assistant,tool)",
                                "must be one of system, developer, user, assistant, tool", echo_value(json(*role))});
          role.reset();
        }
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
        nlohmann::ordered_json tool_calls;
        if (const json* calls = mr.raw("tool_calls")) {
          if (role && *role != "assistant") {
            out.errors.push_back({prefix + ".tool_calls", "requires(role=assistant)",
                                  "only an assistant message has tool_calls", std::nullopt});
          } else {
            tool_calls = read_message_tool_calls(*calls, prefix, out.errors);
          }
        }
        const auto tool_call_id = mr.string("tool_call_id", role == "tool");
        if (tool_call_id && role && *role != "tool") {
          out.errors.push_back(
              {prefix + ".tool_call_id", "requires(role=tool)", "only a tool message has tool_call_id", std::nullopt});
        }
        if (role) {
          nlohmann::ordered_json message = {{"role", *role}, {"content", content}};
          if (name) message["name"] = *name;  // for templates that show the speaker's name
          // Only when there are calls: templates test `'tool_calls' in message`.
          if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);
          if (tool_call_id) message["tool_call_id"] = *tool_call_id;
          chat.messages.push_back(std::move(message));
        }
      }
    }
  }
  // As vLLM and llama-server take them: a conversation whose last message the model goes on with.
  const auto add_generation_prompt = r.boolean("add_generation_prompt");
  chat.continue_final_message = r.boolean("continue_final_message").value_or(false);
  chat.add_generation_prompt = add_generation_prompt.value_or(!chat.continue_final_message);
  if (chat.continue_final_message && add_generation_prompt.value_or(false)) {
    out.errors.push_back({"add_generation_prompt", "excludes(continue_final_message)",
                          "a generation prompt after the final message excludes continuing it", json(true)});
  }
  if (chat.continue_final_message && !chat.messages.empty() && chat.messages.back()["role"] != "assistant") {
    out.errors.push_back({"continue_final_message", "requires(assistant last)",
                          "needs an assistant message last, to continue", json(true)});
  }
  req.prompts.push_back(std::move(chat));

  // max_completion_tokens supersedes the older max_tokens.
  read_max_tokens(r, "max_tokens", req.request);
  read_max_tokens(r, "max_completion_tokens", req.request);
  read_common(r, req);
  read_grammar_fields(r, body, req.request, true);
  req.tools = read_tool_fields(r, body);
  if (req.tools) {
    std::get<engine::ChatPrompt>(req.prompts.back()).tools = req.tools->tools;
    if (req.request.grammar &&
        (req.tools->choice == ToolChoiceMode::kRequired || req.tools->choice == ToolChoiceMode::kFunction)) {
      out.errors.push_back({"tool_choice", "exclusive",
                            "a required or named tool call cannot be combined with " + req.request.grammar_field,
                            std::nullopt});
    }
  }
  reject_unknown(*object,
                 {"messages", "max_completion_tokens", "logprobs", "top_logprobs", "add_generation_prompt",
                  "continue_final_message", "tools", "tool_choice", "parallel_tool_calls"},
                 "", out.errors);

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
