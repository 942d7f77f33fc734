#include "server/openai_sink.hpp"

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

class OpenAiSink::ChoiceSink : public engine::Sink {
 public:
  ChoiceSink(std::shared_ptr<OpenAiSink> response, size_t index) : response_(std::move(response)), index_(index) {}
  void on_prompt_logprobs(std::span<const engine::PromptTokenLogprob> tokens) override {
    response_->on_prompt_logprobs(index_, tokens);
  }
  void on_token(const engine::TokenEvent& event) override { response_->on_token(index_, event); }
  void on_finish(const engine::FinalResult& result) override { response_->on_finish(index_, result); }
  bool client_gone() const override { return response_->stopping(); }

 private:
  std::shared_ptr<OpenAiSink> response_;
  size_t index_;
};

OpenAiSink::OpenAiSink(OpenAiContext context, std::shared_ptr<const engine::Engine> engine,
                       std::shared_ptr<StreamChannel> channel, std::shared_ptr<WorkerMetrics> metrics)
    : ctx_(std::move(context)),
      engine_(std::move(engine)),
      channel_(std::move(channel)),
      remaining_(static_cast<size_t>(ctx_.n_choices)) {
  choices_.reserve(remaining_);
  for (size_t i = 0; i < remaining_; ++i) {
    choices_.emplace_back(metrics);
    choices_[i].logprobs = empty_logprobs();
    if (ctx_.chat && ctx_.tool_format != chat::ToolCallFormat::kNone)
      choices_[i].tools.emplace(ctx_.tool_format, ctx_.parallel_tool_calls);
    if (i < ctx_.echo_prefixes.size()) {
      choices_[i].text = ctx_.echo_prefixes[i];
      // With logprobs the echo goes out with the prompt's log-probabilities, once computed.
      if (ctx_.stream && !ctx_.logprobs && !choices_[i].text.empty())
        channel_->push(sse_data(chunk(i, choices_[i].text, nullptr, std::nullopt)));
    }
  }
}

std::shared_ptr<engine::Sink> OpenAiSink::choice(int index) {
  return std::make_shared<ChoiceSink>(shared_from_this(), static_cast<size_t>(index));
}

void OpenAiSink::abandon() {
  std::lock_guard lk(mu_);
  stop_ = true;
  ended_ = true;
}

// A request past its time limit is cancelled by its first job's id; the others learn it here.
bool OpenAiSink::stopping() const {
  return stop_ || channel_->client_gone() || channel_->timed_out();
}

json OpenAiSink::empty_logprobs() const {
  if (ctx_.chat) return {{"content", json::array()}};
  return {{"tokens", json::array()},
          {"token_logprobs", json::array()},
          {"top_logprobs", json::array()},
          {"text_offset", json::array()}};
}

json OpenAiSink::logprob_entries(const engine::TokenEvent& event, size_t text_offset) const {
  const std::string token = engine_->token_text(event.id);
  if (ctx_.chat) {
    json top = json::array();
    for (const auto& alt : event.top_logprobs) {
      const std::string t = engine_->token_text(alt.id);
      top.push_back({{"token", t}, {"logprob", alt.logprob}, {"bytes", bytes_of(t)}});
    }
    return {{"content",
             json::array(
                 {{{"token", token}, {"logprob", event.logprob}, {"bytes", bytes_of(token)}, {"top_logprobs", top}}})}};
  }
  json top = json::object();
  for (const auto& alt : event.top_logprobs) top[engine_->token_text(alt.id)] = alt.logprob;
  return {{"tokens", json::array({token})},
          {"token_logprobs", json::array({event.logprob})},
          {"top_logprobs", json::array({top})},
          {"text_offset", json::array({text_offset})}};
}

void OpenAiSink::append_logprobs(json& into, const json& entries) const {
  for (const auto& [key, values] : entries.items()) {
    for (const auto& v : values) into[key].push_back(v);
  }
}

json OpenAiSink::chunk(size_t index, const std::string& text, const json& logprobs,
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
void OpenAiSink::send_role(size_t index) {
  Choice& c = choices_[index];
  if (!ctx_.chat || c.sent_role) return;
  json first = chunk(index, "", nullptr, std::nullopt);
  first["choices"][0]["delta"] = {{"role", "assistant"}, {"content", ""}};
  channel_->push(sse_data(first));
  c.sent_role = true;
}

// The echoed prompt's tokens in the completions' logprobs shape; the first token has no
// log-probability (null), as in OpenAI's and vLLM's answers.
void OpenAiSink::on_prompt_logprobs(size_t index, std::span<const engine::PromptTokenLogprob> tokens) {
  std::lock_guard lk(mu_);
  if (ended_ || !ctx_.logprobs || ctx_.chat) return;
  Choice& c = choices_[index];
  json lp = empty_logprobs();
  size_t offset = 0;
  for (const auto& t : tokens) {
    const std::string text = engine_->token_text(t.id);
    json top = nullptr;
    if (t.logprob) {
      top = json::object();
      for (const auto& alt : t.top_logprobs) top[engine_->token_text(alt.id)] = alt.logprob;
    }
    lp["tokens"].push_back(text);
    lp["token_logprobs"].push_back(t.logprob ? json(*t.logprob) : json());
    lp["top_logprobs"].push_back(top);
    // Offsets into the echoed text, which has no text for a special token such as BOS.
    lp["text_offset"].push_back(offset);
    if (c.text.compare(offset, text.size(), text) == 0) offset += text.size();
  }
  if (ctx_.stream) {
    channel_->push(sse_data(chunk(index, c.text, lp, std::nullopt)));
  } else {
    append_logprobs(c.logprobs, lp);
  }
}

void OpenAiSink::on_token(size_t index, const engine::TokenEvent& event) {
  std::lock_guard lk(mu_);
  if (ended_) return;
  Choice& c = choices_[index];
  c.timing.token();
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
  if (!event.text.empty() || ctx_.logprobs) channel_->push(sse_data(chunk(index, event.text, lp, std::nullopt)));
}

void OpenAiSink::take(size_t index, ToolCallStream::Output out, const json& logprobs) {
  Choice& c = choices_[index];
  if (!ctx_.stream) {
    c.content += out.content;
    for (auto& call : out.calls) c.calls.push_back(std::move(call));
    return;
  }
  send_role(index);
  if (!out.content.empty() || !logprobs.is_null())
    channel_->push(sse_data(chunk(index, out.content, logprobs, std::nullopt)));
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
    channel_->push(sse_data(head));
    json args = chunk(index, "", nullptr, std::nullopt);
    args["choices"][0]["delta"] = {
        {"tool_calls", json::array({{{"index", k}, {"function", {{"arguments", call.arguments}}}}})}};
    channel_->push(sse_data(args));
    c.calls.push_back(std::move(call));
  }
}

// OpenAI's usage: each prompt counted once (with its first choice), every choice's tokens.
json OpenAiSink::usage() const {
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

void OpenAiSink::on_finish(size_t index, const engine::FinalResult& result) {
  std::lock_guard lk(mu_);
  --remaining_;
  if (ended_) return;
  Choice& c = choices_[index];
  c.timing.finish(result);
  c.result = result;
  if (result.failure) {
    // The first failure is the response: the other choices are stopped and not heard.
    stop_ = true;
    ended_ = true;
    status_ = result.failure->retriable ? 503 : 500;
    response_ = openai_error_body(result.failure->message, "server_error", std::nullopt, std::nullopt);
    if (ctx_.stream) {
      channel_->push(sse_data(response_));
      channel_->push(sse_done());
    }
    channel_->close();
    return;
  }
  if (result.reason == engine::FinishReason::cancelled) stop_ = true;
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
    channel_->push(sse_data(chunk(index, trailing, nullptr, c.finish_reason)));
  }
  if (remaining_ == 0) complete();
}

void OpenAiSink::complete() {
  ended_ = true;
  if (ctx_.stream) {
    if (ctx_.include_usage) {
      json last = chunk(0, "", nullptr, std::nullopt);
      last["choices"] = json::array();
      last["usage"] = usage();
      channel_->push(sse_data(last));
    }
    channel_->push(sse_done());
  } else {
    json choices = json::array();
    for (size_t i = 0; i < choices_.size(); ++i) {
      const Choice& c = choices_[i];
      json choice = {
          {"index", i}, {"logprobs", ctx_.logprobs ? c.logprobs : json()}, {"finish_reason", c.finish_reason}};
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
  channel_->close();
}

}  // namespace rbees::server
