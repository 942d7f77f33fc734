#pragma once
// `serve --ignore-eos`: every request generates past EOS (benchmarks on random-weight models, where
// EOS comes at random), whatever the request itself says.

#include "engine/engine.hpp"

#include <memory>

namespace rbees::app {

class IgnoreEosEngine : public engine::Engine {
 public:
  explicit IgnoreEosEngine(std::shared_ptr<engine::Engine> inner) : inner_(std::move(inner)) {}

  engine::SubmitResult submit(engine::Request request, std::shared_ptr<engine::Sink> sink) override {
    request.ignore_eos = true;
    return inner_->submit(std::move(request), std::move(sink));
  }
  bool cancel(const std::string& job_id) override { return inner_->cancel(job_id); }
  engine::HealthInfo health() const override { return inner_->health(); }
  engine::EngineStats stats() const override { return inner_->stats(); }
  std::vector<int32_t> tokenize(std::string_view text, bool add_special) const override {
    return inner_->tokenize(text, add_special);
  }
  std::string detokenize(std::span<const int32_t> ids) const override { return inner_->detokenize(ids); }
  std::string token_text(int32_t id) const override { return inner_->token_text(id); }
  chat::ToolCallFormat tool_call_format() const override { return inner_->tool_call_format(); }

 private:
  std::shared_ptr<engine::Engine> inner_;
};

}  // namespace rbees::app
