#pragma once
// A scripted engine for testing the HTTP layer alone: it "generates" letters a, b, c, ... one per
// token on its own thread. Prompts steer it: "hang" generates until cancelled, "fail" fails.

#include "engine/engine.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace rbees::server::testing {

class FakeEngine : public engine::Engine {
 public:
  ~FakeEngine() override {
    // The last owner may let go on one of these threads (a reply's wake-up): it cannot join itself.
    for (auto& t : threads_) {
      if (t.get_id() == std::this_thread::get_id()) {
        t.detach();
      } else {
        t.join();
      }
    }
  }

  engine::SubmitResult submit(engine::Request request, std::shared_ptr<engine::Sink> sink) override {
    if (refuse_with != engine::Admission::accepted) {
      return {refuse_with, "refused by the test", 0, refuse_field, refuse_constraint};
    }
    std::string prompt;
    if (auto* t = std::get_if<engine::TextPrompt>(&request.prompt)) prompt = t->text;
    if (auto* c = std::get_if<engine::ChatPrompt>(&request.prompt)) prompt = c->messages.back()["content"];
    {
      std::lock_guard lock(mu_);
      requests.push_back(request);
      cancel_flags_[request.job_id] = false;
    }
    const int32_t prompt_tokens = static_cast<int32_t>(prompt.size()) + 1;
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, request, sink, prompt, prompt_tokens] {
      engine::FinalResult result;
      result.prompt_tokens = prompt_tokens;
      const int limit = prompt == "hang" ? 1 << 30 : request.max_tokens.value_or(5);
      if (!script.empty()) {
        for (size_t at = 0; at < script.size(); at += 3) {
          engine::TokenEvent ev;
          ev.id = script[at];
          ev.text = script.substr(at, 3);
          sink->on_token(ev);
          ++result.tokens_out;
        }
        result.reason = engine::FinishReason::eos;
      }
      for (int i = 0; i < limit && script.empty(); ++i) {
        if (is_cancelled(request.job_id) || sink->client_gone()) {
          result.reason = engine::FinishReason::cancelled;
          break;
        }
        if (prompt == "fail") {
          result.failure = engine::Failure{engine::FailureKind::inference_failed, "the graph failed", false};
          break;
        }
        engine::TokenEvent ev;
        ev.id = 'a' + i % 26;
        ev.text = std::string(1, static_cast<char>(ev.id));
        if (request.logprobs) {
          ev.logprob = -0.5f;
          for (int k = 0; k < *request.logprobs; ++k) ev.top_logprobs.push_back({ev.id + k, -0.5f - k});
        }
        sink->on_token(ev);
        ++result.tokens_out;
        if (prompt == "hang") std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (result.reason == engine::FinishReason::none && !result.failure)
        result.reason = engine::FinishReason::max_tokens;
      result.decode_ms = 10.0;
      sink->on_finish(result);
      std::lock_guard lock(mu_);
      finished[request.job_id] = result.reason;
      cv_.notify_all();
    });
    return {engine::Admission::accepted, "", prompt_tokens};
  }

  bool cancel(const std::string& job_id) override {
    std::lock_guard lock(mu_);
    auto it = cancel_flags_.find(job_id);
    if (it == cancel_flags_.end() || finished.count(job_id)) return false;
    it->second = true;
    return true;
  }

  engine::HealthInfo health() const override { return {"fake-model", "cpu", true, "f16", 0, "hf-json", 128, 1024}; }
  engine::EngineStats stats() const override { return {2, 3, 0.5}; }

  std::vector<int32_t> tokenize(std::string_view text, bool add_special) const override {
    std::vector<int32_t> out;
    if (add_special) out.push_back(1);
    for (char c : text) out.push_back(static_cast<unsigned char>(c));
    return out;
  }
  std::string detokenize(std::span<const int32_t> ids) const override {
    std::string out;
    for (int32_t id : ids) out += static_cast<char>(id);
    return out;
  }
  std::string token_text(int32_t id) const override { return std::string(1, static_cast<char>(id)); }
  chat::ToolCallFormat tool_call_format() const override { return tool_format; }

  // Waits until the job has finished; returns its reason.
  engine::FinishReason wait_finished(const std::string& job_id) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return finished.count(job_id) > 0; });
    return finished[job_id];
  }

  engine::Admission refuse_with = engine::Admission::accepted;
  std::string refuse_field;  // with refuse_with == invalid: the field the refusal names
  std::string refuse_constraint;
  chat::ToolCallFormat tool_format = chat::ToolCallFormat::kNone;
  // When set, every job writes this text, three bytes per token, and ends with EOS.
  std::string script;
  std::vector<engine::Request> requests;
  std::map<std::string, engine::FinishReason> finished;

 private:
  bool is_cancelled(const std::string& job_id) {
    std::lock_guard lock(mu_);
    return cancel_flags_[job_id];
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, bool> cancel_flags_;
  std::vector<std::thread> threads_;
};

}  // namespace rbees::server::testing
