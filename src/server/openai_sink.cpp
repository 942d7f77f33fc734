#include "server/openai_sink.hpp"

namespace rbees::server {

class OpenAiSink::ChoiceSink : public engine::Sink {
 public:
  ChoiceSink(std::shared_ptr<OpenAiSink> response, uint32_t index) : response_(std::move(response)), index_(index) {}
  void on_prompt_logprobs(std::span<const engine::PromptTokenLogprob> tokens) override {
    response_->on_prompt_logprobs(index_, tokens);
  }
  void on_token(const engine::TokenEvent& event) override { response_->on_token(index_, event); }
  void on_finish(const engine::FinalResult& result) override { response_->on_finish(index_, result); }
  bool client_gone() const override { return response_->stopping(); }

 private:
  std::shared_ptr<OpenAiSink> response_;
  uint32_t index_;
};

OpenAiSink::OpenAiSink(int n_choices, bool prompt_logprobs, std::shared_ptr<StreamChannel> channel,
                       std::shared_ptr<WorkerMetrics> metrics)
    : prompt_logprobs_(prompt_logprobs), channel_(std::move(channel)), remaining_(static_cast<size_t>(n_choices)) {
  timing_.reserve(remaining_);
  for (size_t i = 0; i < remaining_; ++i) timing_.emplace_back(metrics);
}

std::shared_ptr<engine::Sink> OpenAiSink::choice(int index) {
  return std::make_shared<ChoiceSink>(shared_from_this(), static_cast<uint32_t>(index));
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

void OpenAiSink::on_prompt_logprobs(uint32_t index, std::span<const engine::PromptTokenLogprob> tokens) {
  std::lock_guard lk(mu_);
  if (ended_ || !prompt_logprobs_) return;
  channel_->push({index, PromptLogprobs{{tokens.begin(), tokens.end()}}});
}

void OpenAiSink::on_token(uint32_t index, const engine::TokenEvent& event) {
  std::lock_guard lk(mu_);
  if (ended_) return;
  timing_[index].token();
  channel_->push({index, event});
}

void OpenAiSink::on_finish(uint32_t index, const engine::FinalResult& result) {
  std::lock_guard lk(mu_);
  --remaining_;
  if (ended_) return;
  timing_[index].finish(result);
  // The first failure is the response: the other choices are stopped and not heard.
  if (result.failure || result.reason == engine::FinishReason::cancelled) stop_ = true;
  channel_->push({index, result});
  if (result.failure || remaining_ == 0) {
    ended_ = true;
    channel_->close();
  }
}

}  // namespace rbees::server
