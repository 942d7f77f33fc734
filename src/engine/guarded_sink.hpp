#pragma once
// A job's sink as the engine holds it: it can be ended from another thread (a device was lost while
// the engine's thread waits on it, see BatchEngine::abandon), after which whatever the engine's
// thread still sends is dropped, so a client hears exactly one end.

#include <memory>
#include <mutex>
#include <span>
#include <utility>

#include "engine/engine.hpp"

namespace rbees::engine {

class GuardedSink : public Sink {
 public:
  explicit GuardedSink(std::shared_ptr<Sink> inner) : inner_(std::move(inner)) {}

  void on_token(const TokenEvent& event) override {
    std::lock_guard lk(mu_);
    if (!ended_) inner_->on_token(event);
  }
  void on_prompt_logprobs(std::span<const PromptTokenLogprob> tokens) override {
    std::lock_guard lk(mu_);
    if (!ended_) inner_->on_prompt_logprobs(tokens);
  }
  void on_finish(const FinalResult& result) override {
    std::lock_guard lk(mu_);
    if (ended_) return;
    ended_ = true;
    inner_->on_finish(result);
  }
  bool client_gone() const override { return inner_->client_gone(); }

  // Ends the job with `failure` unless it has ended already.
  void fail(const Failure& failure) {
    FinalResult end;
    end.reason = FinishReason::cancelled;
    end.failure = failure;
    on_finish(end);
  }

 private:
  std::mutex mu_;
  bool ended_ = false;
  std::shared_ptr<Sink> inner_;
};

}  // namespace rbees::engine
