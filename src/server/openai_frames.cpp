#include "server/openai_frames.hpp"

#include "server/error_responses.hpp"
#include "server/sse.hpp"
#include "server/validation.hpp"

namespace rbees::server {

using nlohmann::json;

namespace {

json bytes_of(const std::string& s) {
  json out = json::array();
  for (unsigned char c : s) out.push_back(static_cast<int>(c));
  return out;
}

}  // namespace

std::string openai_finish_reason(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::eos:
    case engine::FinishReason::stop_sequence: return "stop";
    case engine::FinishReason::max_tokens:
    case engine::FinishReason::context_length: return "length";
    case engine::FinishReason::cancelled: return "cancelled";
    case engine::FinishReason::none: break;
  }
  return "stop";
}

OpenAiFrames::OpenAiFrames(OpenAiContext context, std::weak_ptr<const engine::Engine> engine)
    : ctx_(std::move(context)), engine_(std::move(engine)), remaining_(static_cast<size_t>(ctx_.n_choices)) {
  choices_.resize(remaining_);
  for (size_t i = 0; i < remaining_; ++i) {
    choices_[i].logprobs = empty_logprobs();
    if (ctx_.chat && ctx_.tool_format != chat::ToolCallFormat::kNone)
      choices_[i].tools.emplace(ctx_.tool_format, ctx_.parallel_tool_calls);
    if (i < ctx_.echo_prefixes.size()) choices_[i].text = ctx_.echo_prefixes[i];
  }
}

void OpenAiFrames::add(std::span<const StreamEvent> events, std::string& out) {
  out_ = &out;
  if (!opened_) {
    opened_ = true;
    // With logprobs the echo goes out with the prompt's log-probabilities, once computed.
    for (size_t i = 0; i < choices_.size() && ctx_.stream && !ctx_.logprobs; ++i) {
      if (!choices_[i].text.empty()) emit(chunk(i, choices_[i].text, nullptr, std::nullopt));
    }
  }
  for (const StreamEvent& e : events) {
    if (ended_) break;
    const size_t index = e.choice;
    if (const auto* token = std::get_if<engine::TokenEvent>(&e.data)) on_token(index, *token);
    if (const auto* prompt = std::get_if<PromptLogprobs>(&e.data)) on_prompt_logprobs(index, prompt->tokens);
    if (const auto* result = std::get_if<engine::FinalResult>(&e.data)) on_finish(index, *result);
  }
  out_ = nullptr;
}

HttpResponse OpenAiFrames::response() {
  return json_response(status_, response_);
}

void OpenAiFrames::emit(const json& data) {
  if (out_) *out_ += sse_data(data);
}

std::string OpenAiFrames::token_text(int32_t id) const {
  auto engine = engine_.lock();
  return engine ? engine->token_text(id) : std::string();
}

json OpenAiFrames::empty_logprobs() const {
  if (ctx_.chat) return {{"content", json::array()}};
  return {{"tokens", json::array()},
          {"token_logprobs", json::array()},
          {"top_logprobs", json::array()},
          {"text_offset", json::array()}};
}

json OpenAiFrames::logprob_entries(const engine::TokenEvent& event, size_t text_offset) const {
  const std::string token = token_text(event.id);
  if (ctx_.chat) {
    json top = json::array();
    for (const auto& alt : event.top_logprobs) {
      const std::string t = token_text(alt.id);
      top.push_back({{"token", t}, {"logprob", alt.logprob}, {"bytes", bytes_of(t)}});
    }
    return {{"content",
             json::array(
                 {{{"token", token}, {"logprob", event.logprob}, {"bytes", bytes_of(token)}, {"top_logprobs", top}}})}};
  }
  json top = json::object();
  for (const auto& alt : event.top_logprobs) top[token_text(alt.id)] = alt.logprob;
  return {{"tokens", json::array({token})},
          {"token_logprobs", json::array({event.logprob})},
          {"top_logprobs", json::array({top})},
          {"text_offset", json::array({text_offset})}};
}

void OpenAiFrames::append_logprobs(json& into, const json& entries) const {
  for (const auto& [key, values] : entries.items()) {
    for (const auto& v : values) into[key].push_back(v);
  }
}

json OpenAiFrames::chunk(size_t index, const std::string& text, const json& logprobs,
                         const std::optional<std::string>& finish_reason) const {
  json choice = {
      {"index", index}, {"logprobs", logprobs}, {"finish_reason", finish_reason ? json(*finish_reason) : json()}};
  if (ctx_.chat) {
    json delta = json::object();
    if (!finish_reason || !text.empty()) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  return {{"id", ctx_.id},
          {"object", ctx_.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", ctx_.created},
          {"model", ctx_.model},
          {"choices", json::array({choice})}};
}

// A chat stream opens each choice with the assistant's role.
void OpenAiFrames::send_role(size_t index) {
  Choice& c = choices_[index];
  if (!ctx_.chat || c.sent_role) return;
  json first = chunk(index, "", nullptr, std::nullopt);
  first["choices"][0]["delta"] = {{"role", "assistant"}, {"content", ""}};
  emit(first);
  c.sent_role = true;
}

// The echoed prompt's tokens in the completions' logprobs shape; the first token has no
// log-probability (null), as in OpenAI's and vLLM's answers.
void OpenAiFrames::on_prompt_logprobs(size_t index, const std::vector<engine::PromptTokenLogprob>& tokens) {
  if (!ctx_.logprobs || ctx_.chat) return;
  Choice& c = choices_[index];
  json lp = empty_logprobs();
  size_t offset = 0;
  for (const auto& t : tokens) {
    const std::string text = token_text(t.id);
    json top = nullptr;
    if (t.logprob) {
      top = json::object();
      for (const auto& alt : t.top_logprobs) top[token_text(alt.id)] = alt.logprob;
    }
    lp["tokens"].push_back(text);
    lp["token_logprobs"].push_back(t.logprob ? json(*t.logprob) : json());
    lp["top_logprobs"].push_back(top);
    // Offsets into the echoed text, which has no text for a special token such as BOS.
    lp["text_offset"].push_back(offset);
    if (c.text.compare(offset, text.size(), text) == 0) offset += text.size();
  }
  if (ctx_.stream) {
    emit(chunk(index, c.text, lp, std::nullopt));
  } else {
    append_logprobs(c.logprobs, lp);
  }
}

void OpenAiFrames::on_token(size_t index, const engine::TokenEvent& event) {
  Choice& c = choices_[index];
  const size_t offset = c.text.size();
  c.text += event.text;
  json lp = nullptr;
  if (ctx_.logprobs) {
    lp = logprob_entries(event, offset);
    if (!ctx_.stream) append_logprobs(c.logprobs, lp);
  }
  if (c.tools) {
    take(index, c.tools->push(event.text), lp);
    return;
  }
  if (!ctx_.stream) return;
  send_role(index);
  if (!event.text.empty() || ctx_.logprobs) emit(chunk(index, event.text, lp, std::nullopt));
}

void OpenAiFrames::take(size_t index, ToolCallStream::Output out, const json& logprobs) {
  Choice& c = choices_[index];
  if (!ctx_.stream) {
    c.content += out.content;
    for (auto& call : out.calls) c.calls.push_back(std::move(call));
    return;
  }
  send_role(index);
  if (!out.content.empty() || !logprobs.is_null()) emit(chunk(index, out.content, logprobs, std::nullopt));
  // As OpenAI streams a call: its index, id, type and name with empty arguments, then the
  // arguments (here in one piece, once the call is complete).
  for (auto& call : out.calls) {
    const size_t k = c.calls.size();
    json head = chunk(index, "", nullptr, std::nullopt);
    head["choices"][0]["delta"] = {
        {"tool_calls", json::array({{{"index", k},
                                     {"id", call.id},
                                     {"type", "function"},
                                     {"function", {{"name", call.name}, {"arguments", ""}}}}})}};
    emit(head);
    json args = chunk(index, "", nullptr, std::nullopt);
    args["choices"][0]["delta"] = {
        {"tool_calls", json::array({{{"index", k}, {"function", {{"arguments", call.arguments}}}}})}};
    emit(args);
    c.calls.push_back(std::move(call));
  }
}

// OpenAI's usage: each prompt counted once (with its first choice), every choice's tokens.
json OpenAiFrames::usage() const {
  int64_t prompt = 0, cached = 0, completion = 0;
  for (size_t i = 0; i < choices_.size(); ++i) {
    const auto& r = choices_[i].result;
    if (i % static_cast<size_t>(ctx_.n_per_prompt) == 0) {
      prompt += r.prompt_tokens;
      cached += r.cached_prompt_tokens;
    }
    completion += r.tokens_out;
  }
  // cached_tokens: OpenAI's field for prompt tokens whose keys and values came from the prefix cache.
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

void OpenAiFrames::on_finish(size_t index, const engine::FinalResult& result) {
  --remaining_;
  Choice& c = choices_[index];
  c.result = result;
  if (result.failure) {
    // The first failure is the response; the engine's side has stopped the other choices.
    ended_ = true;
    status_ = result.failure->retriable ? 503 : 500;
    response_ = openai_error_body(result.failure->message, "server_error", std::nullopt, std::nullopt);
    if (ctx_.stream) {
      emit(response_);
      *out_ += sse_done();
    }
    return;
  }
  c.text += result.trailing_text;
  c.finish_reason = openai_finish_reason(result.reason);
  std::string trailing = result.trailing_text;
  if (c.tools) {
    auto out = c.tools->push(result.trailing_text);
    auto end = c.tools->finish();
    // What was held back goes out as content with the final chunk.
    trailing = std::move(out.content) + end.content;
    for (auto& call : end.calls) out.calls.push_back(std::move(call));
    take(index, {ctx_.stream ? "" : trailing, std::move(out.calls)}, nullptr);
    // Calls that the model finished, then ended: OpenAI's reason for an answer that is calls.
    if (c.tools->call_count() > 0 && c.finish_reason == "stop") c.finish_reason = "tool_calls";
  }
  if (ctx_.stream) {
    send_role(index);
    emit(chunk(index, trailing, nullptr, c.finish_reason));
  }
  if (remaining_ == 0) complete();
}

void OpenAiFrames::complete() {
  ended_ = true;
  if (ctx_.stream) {
    if (ctx_.include_usage) {
      json last = chunk(0, "", nullptr, std::nullopt);
      last["choices"] = json::array();
      last["usage"] = usage();
      emit(last);
    }
    *out_ += sse_done();
    return;
  }
  json choices = json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    json choice = {{"index", i}, {"logprobs", ctx_.logprobs ? c.logprobs : json()}, {"finish_reason", c.finish_reason}};
    if (ctx_.chat && c.tools) {
      // Only calls: content is null, as OpenAI writes it.
      choice["message"] = {{"role", "assistant"},
                           {"content", c.calls.empty() || !c.content.empty() ? json(c.content) : json()}};
      if (!c.calls.empty()) {
        json calls = json::array();
        for (const auto& call : c.calls) {
          calls.push_back({{"id", call.id},
                           {"type", "function"},
                           {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
        }
        choice["message"]["tool_calls"] = std::move(calls);
      }
    } else if (ctx_.chat) {
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    } else {
      choice["text"] = c.text;
    }
    choices.push_back(std::move(choice));
  }
  response_ = {{"id", ctx_.id},
               {"object", ctx_.chat ? "chat.completion" : "text_completion"},
               {"created", ctx_.created},
               {"model", ctx_.model},
               {"choices", std::move(choices)},
               {"usage", usage()}};
}

}  // namespace rbees::server
