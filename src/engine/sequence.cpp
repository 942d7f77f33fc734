#include "engine/sequence.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace rbees::engine {

Sequence::Sequence(std::vector<int32_t> prompt, const sampling::SamplingParams& params,
                   const tokenizer::Tokenizer& tokenizer, ContinuationLimits limits)
    : tokens_(std::move(prompt)),
      n_prompt_(static_cast<int>(tokens_.size())),
      sampler_(params, tokens_),
      continuation_(tokenizer, std::move(limits)) {
  if (n_prompt_ == 0) throw std::invalid_argument("a sequence needs at least one prompt token");
  tokens_.reserve(tokens_.size() + 64);
}

void Sequence::transition(SequenceState to) {
  const bool ok =
      (state_ == SequenceState::waiting && to == SequenceState::prefilling) ||
      (state_ == SequenceState::prefilling && to == SequenceState::decoding) ||
      ((state_ == SequenceState::prefilling || state_ == SequenceState::decoding) && to == SequenceState::waiting) ||
      (state_ != SequenceState::finished && to == SequenceState::finished);
  if (!ok) {
    throw std::logic_error("sequence " + std::to_string(id_) + ": no transition from " +
                           std::string(to_string(state_)) + " to " + std::string(to_string(to)));
  }
  state_ = to;
}

int Sequence::n_to_prefill() const {
  // After a preemption the generated tokens are recomputed too, all but the last, which is the next
  // decode step's input.
  return n_generated() > 0 ? static_cast<int>(tokens_.size()) - 1 : n_prompt_;
}

void Sequence::admit(int32_t id, int reused_tokens) {
  if (reused_tokens < 0 || reused_tokens >= n_to_prefill()) throw std::invalid_argument("reused prefix out of range");
  transition(SequenceState::prefilling);
  id_ = id;
  n_computed_ = reused_tokens;
  if (n_preemptions_ == 0) n_reused_ = reused_tokens;
}

void Sequence::preempt() {
  transition(SequenceState::waiting);
  id_ = -1;
  n_computed_ = 0;
  ++n_preemptions_;
}

void Sequence::computed(int n) {
  if (state_ == SequenceState::waiting || state_ == SequenceState::finished) {
    throw std::logic_error("sequence " + std::to_string(id_) + " computed while " + std::string(to_string(state_)));
  }
  n_computed_ += n;
  if (n_computed_ > static_cast<int>(tokens_.size())) throw std::logic_error("computed beyond the known tokens");
  // A resumed sequence has its next token already: it goes on decoding without sampling.
  if (state_ == SequenceState::prefilling && n_generated() > 0 && n_computed_ == n_to_prefill()) {
    transition(SequenceState::decoding);
  }
}

void Sequence::check_sampling() const {
  if (n_computed_ != static_cast<int>(tokens_.size())) {
    throw std::logic_error("sequence " + std::to_string(id_) + " sampled before its tokens were computed");
  }
}

TokenResult Sequence::on_logits(std::span<const float> row, std::optional<int32_t> n_top,
                                sampling::SampledToken* logprobs) {
  check_sampling();
  int32_t id;
  if (n_top && logprobs != nullptr) {
    *logprobs = sampler_.sample_with_logprobs(row, *n_top);
    id = logprobs->id;
  } else {
    id = sampler_.sample(row);
  }
  return push(id);
}

TokenResult Sequence::on_greedy_token(int32_t id) {
  check_sampling();
  if (!sampler_.plain_greedy() && !sampler_.masked_greedy()) {
    throw std::logic_error("sequence " + std::to_string(id_) + " is not greedy: it must sample its logits");
  }
  sampler_.accept(id);
  return push(id);
}

TokenResult Sequence::push(int32_t id) {
  tokens_.push_back(id);
  if (state_ == SequenceState::prefilling) transition(SequenceState::decoding);
  return continue_with(id);
}

TokenResult Sequence::continue_with(int32_t id) {
  TokenResult r = continuation_.push(id);
  if (r.finish != FinishReason::none) {
    finish_reason_ = r.finish;
    transition(SequenceState::finished);
  }
  return r;
}

void Sequence::push_pending() {
  if (pending_) throw std::logic_error("sequence " + std::to_string(id_) + " has a pending token already");
  check_sampling();
  tokens_.push_back(0);
  pending_ = true;
  pending_sampled_ = false;
  if (state_ == SequenceState::prefilling) transition(SequenceState::decoding);
}

void Sequence::fill_pending(int32_t id) {
  if (!pending_) throw std::logic_error("sequence " + std::to_string(id_) + " has no pending token");
  if (!sampler_.plain_greedy()) {
    throw std::logic_error("sequence " + std::to_string(id_) + " is not greedy: it must sample its logits");
  }
  tokens_.back() = id;
}

void Sequence::sample_pending(std::span<const float> row, std::optional<int32_t> n_top) {
  if (!pending_ || pending_sampled_) {
    throw std::logic_error("sequence " + std::to_string(id_) + " has no pending token to sample");
  }
  if (n_top) {
    pending_logprobs_ = sampler_.sample_with_logprobs(row, *n_top);
    tokens_.back() = pending_logprobs_.id;
  } else {
    tokens_.back() = sampler_.sample(row);
  }
  pending_sampled_ = true;
}

TokenResult Sequence::resolve_pending(sampling::SampledToken* logprobs) {
  if (!pending_) throw std::logic_error("sequence " + std::to_string(id_) + " has no pending token");
  pending_ = false;
  // Preempted meanwhile, it waits with the token for its turn, as push() leaves one.
  const int32_t id = tokens_.back();
  if (pending_sampled_) {
    if (logprobs != nullptr) *logprobs = std::move(pending_logprobs_);
  } else {
    sampler_.accept(id);
  }
  pending_sampled_ = false;
  pending_logprobs_ = {};
  return continue_with(id);
}

std::string Sequence::finish(FinishReason reason) {
  if (pending_) {
    tokens_.pop_back();
    pending_ = false;
    pending_sampled_ = false;
  }
  if (state_ == SequenceState::finished) return {};
  finish_reason_ = reason;
  transition(SequenceState::finished);
  return continuation_.flush();
}

}  // namespace rbees::engine
