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

OpenAiSink::OpenAiSink(OpenAiContext context, std::shared_ptr<const engine::Engine> engine,
                       std::shared_ptr<StreamChannel> channel, std::shared_ptr<WorkerMetrics> metrics)
    : ctx_(std::move(context)), engine_(std::move(engine)), channel_(std::move(channel)), timing_(std::move(metrics)) {
  logprobs_ = empty_logprobs();
  text_ = ctx_.echo_prefix;
  if (ctx_.stream && !ctx_.echo_prefix.empty())
    channel_->push(sse_data(chunk(ctx_.echo_prefix, nullptr, std::nullopt)));
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

json OpenAiSink::chunk(const std::string& text, const json& logprobs,
                       const std::optional<std::string>& finish_reason) const {
  json choice = {
      {"index", 0}, {"logprobs", logprobs}, {"finish_reason", finish_reason ? json(*finish_reason) : json()}};
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

void OpenAiSink::on_token(const engine::TokenEvent& event) {
  timing_.token();
  const size_t offset = text_.size();
  text_ += event.text;
  json lp = nullptr;
  if (ctx_.logprobs) {
    lp = logprob_entries(event, offset);
    if (!ctx_.stream) append_logprobs(logprobs_, lp);
  }
  if (!ctx_.stream) return;
  if (ctx_.chat && !sent_role_) {
    json first = chunk("", nullptr, std::nullopt);
    first["choices"][0]["delta"] = {{"role", "assistant"}, {"content", ""}};
    channel_->push(sse_data(first));
    sent_role_ = true;
  }
  if (!event.text.empty() || ctx_.logprobs) channel_->push(sse_data(chunk(event.text, lp, std::nullopt)));
}

json OpenAiSink::usage(const engine::FinalResult& result) const {
  // OpenAI's field for prompt tokens whose keys and values came from the prefix cache.
  return {{"prompt_tokens", result.prompt_tokens},
          {"completion_tokens", result.tokens_out},
          {"total_tokens", result.prompt_tokens + result.tokens_out},
          {"prompt_tokens_details", {{"cached_tokens", result.cached_prompt_tokens}}}};
}

void OpenAiSink::on_finish(const engine::FinalResult& result) {
  timing_.finish(result);
  if (result.failure) {
    status_ = result.failure->retriable ? 503 : 500;
    response_ = openai_error_body(result.failure->message, "server_error", std::nullopt, std::nullopt);
    if (ctx_.stream) {
      channel_->push(sse_data(response_));
      channel_->push(sse_done());
    }
    channel_->close();
    return;
  }
  text_ += result.trailing_text;
  const std::string finish = openai_finish_reason(result.reason);
  if (ctx_.stream) {
    if (ctx_.chat && !sent_role_) {
      json first = chunk("", nullptr, std::nullopt);
      first["choices"][0]["delta"] = {{"role", "assistant"}, {"content", ""}};
      channel_->push(sse_data(first));
    }
    channel_->push(sse_data(chunk(result.trailing_text, nullptr, finish)));
    if (ctx_.include_usage) {
      json last = chunk("", nullptr, std::nullopt);
      last["choices"] = json::array();
      last["usage"] = usage(result);
      channel_->push(sse_data(last));
    }
    channel_->push(sse_done());
  } else {
    json choice = {{"index", 0}, {"logprobs", ctx_.logprobs ? logprobs_ : json()}, {"finish_reason", finish}};
    if (ctx_.chat) {
      choice["message"] = {{"role", "assistant"}, {"content", text_}};
    } else {
      choice["text"] = text_;
    }
    response_ = {{"id", ctx_.id},
                 {"object", ctx_.chat ? "chat.completion" : "text_completion"},
                 {"created", ctx_.created},
                 {"model", ctx_.model},
                 {"choices", json::array({choice})},
                 {"usage", usage(result)}};
  }
  channel_->close();
}

}  // namespace rbees::server
