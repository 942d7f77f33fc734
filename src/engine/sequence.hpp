#pragma once
// One request's sequence through the scheduler, as an explicit state machine:
//
//   waiting --admit--> prefilling --last prompt chunk computed, first token sampled--> decoding
//      ^                   |                                                              |
//      +------preempt------+---------------------------preempt----------------------------+
//   any state but finished --cancel, error, stop--> finished
//
// A running sequence may be preempted back to waiting when the KV cache runs out of blocks: it
// keeps its tokens, sampler and text state, and once admitted again recomputes every token but the
// last generated one (mostly from the prefix cache) and goes on decoding without sampling anew.
//
// waiting: queued, holds no KV space. prefilling: admitted (KV reserved, a cached prefix possibly
// reused), its prompt is computed chunk by chunk. decoding: one token per step. finished: stopped
// for a FinishReason; the scheduler releases its KV space at once.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "engine/continuation.hpp"
#include "engine/finish_reason.hpp"
#include "sampling/sampler.hpp"
#include "sampling/sampling_params.hpp"
#include "tokenizer/tokenizer.hpp"

namespace rbees::engine {

enum class SequenceState { waiting, prefilling, decoding, finished };

constexpr std::string_view to_string(SequenceState s) {
  switch (s) {
    case SequenceState::waiting: return "waiting";
    case SequenceState::prefilling: return "prefilling";
    case SequenceState::decoding: return "decoding";
    case SequenceState::finished: return "finished";
  }
  return "?";
}

class Sequence {
 public:
  Sequence(std::vector<int32_t> prompt, const sampling::SamplingParams& params, const tokenizer::Tokenizer& tokenizer,
           ContinuationLimits limits);

  // The KV-cache sequence id, given at admission (-1 before).
  int32_t id() const { return id_; }
  SequenceState state() const { return state_; }

  // waiting -> prefilling as KV sequence `id`, with the first `reused_tokens` prompt tokens already
  // in the KV cache.
  void admit(int32_t id, int reused_tokens);
  // Running -> waiting: its KV space was taken back; it keeps its tokens and sampling state.
  void preempt();
  int n_preemptions() const { return n_preemptions_; }
  // The tokens a prefill computes: the prompt, or after a preemption every token but the last.
  int n_to_prefill() const;
  // The tokens still to compute before decoding (prefilling only).
  int prompt_remaining() const { return n_to_prefill() - n_computed_; }
  // Whether the prefill ends in a sample (not after a preemption that left a token to decode).
  bool samples_after_prefill() const { return n_generated() == 0; }
  // The KV cache now holds `n` more of this sequence's tokens.
  void computed(int n);
  // Samples the next token from this sequence's logits row (once the whole prompt is computed):
  // prefilling -> decoding on the first token, -> finished when the token ends the generation.
  // With `logprobs`, also reports the chosen token's log-probability and n_top alternatives.
  TokenResult on_logits(std::span<const float> row, std::optional<int32_t> n_top = std::nullopt,
                        sampling::SampledToken* logprobs = nullptr);
  // Whether its admission computes every prompt token, reusing no cached prefix (for the logits of
  // each prompt position).
  bool computes_whole_prompt() const { return whole_prompt_; }
  void set_computes_whole_prompt(bool on) { whole_prompt_ = on; }
  // Restricts the tokens this sequence may take (before it is admitted).
  void constrain(std::unique_ptr<sampling::LogitsConstraint> c) { sampler_.set_constraint(std::move(c)); }
  bool constrained() const { return sampler_.constrained(); }
  // Computes the next token's mask ahead (Sampler::prepare), while the logits are being computed.
  void prepare_sampling() { sampler_.prepare(); }
  // Whether the next token is the plain argmax of the logits (Sampler::plain_greedy), so that the
  // model may pick it (LlamaModel::forward_greedy) and pass it to on_greedy_token().
  bool plain_greedy() const { return sampler_.plain_greedy(); }
  // Whether the next token is the argmax of the logits under the grammar's mask alone
  // (Sampler::masked_greedy): the model may pick it with allowed_tokens() applied.
  bool masked_greedy() const { return sampler_.masked_greedy(); }
  std::span<const uint64_t> allowed_tokens() { return sampler_.allowed(); }
  // As on_logits(), with the argmax already picked. Only for a plain_greedy() or masked_greedy()
  // sequence.
  TokenResult on_greedy_token(int32_t id);
  // Overlapped steps (BatchEngine): the step that computes this sequence's next token is launched,
  // and the next step is planned before the token is known. push_pending() appends a placeholder
  // for it (prefilling -> decoding on the first). The token is then put in its place before the
  // next step is launched: the device's pick (fill_pending(), plain greedy only) or one drawn from
  // the step's logits row by the sequence's own sampler (sample_pending(): a grammar's mask applies,
  // prepared meanwhile by prepare_sampling(), and the grammar takes the token at once; with n_top
  // the log-probabilities are kept). Once the next step is launched, resolve_pending() goes on with
  // it as on_greedy_token() or on_logits() (moving the log-probabilities kept into `logprobs`). A
  // placeholder left when the sequence ends is dropped.
  void push_pending();
  void fill_pending(int32_t id);
  void sample_pending(std::span<const float> row, std::optional<int32_t> n_top = std::nullopt);
  TokenResult resolve_pending(sampling::SampledToken* logprobs = nullptr);
  bool has_pending() const { return pending_; }
  // Whether the pending token is the last the token budget allows (max_tokens or the context), so
  // that no step may be planned after it.
  bool pending_is_last() const { return pending_ && continuation_.n_generated() + 1 >= max_new_tokens(); }
  // Ends the sequence from outside (cancel, error); returns the text still held back.
  std::string finish(FinishReason reason);

  // Prompt then generated tokens; every one but the last generated is (or will be) in the KV cache.
  const std::vector<int32_t>& tokens() const { return tokens_; }
  int n_prompt() const { return n_prompt_; }
  int n_computed() const { return n_computed_; }
  int n_generated() const { return static_cast<int>(tokens_.size()) - n_prompt_; }
  int n_reused() const { return n_reused_; }
  int max_new_tokens() const { return continuation_.max_new_tokens(); }
  FinishReason finish_reason() const { return finish_reason_; }
  const sampling::Sampler& sampler() const { return sampler_; }

 private:
  void transition(SequenceState to);
  void check_sampling() const;
  // Appends the chosen token and advances the continuation (stop conditions, text).
  TokenResult push(int32_t id);
  // The continuation's part of push(): stop conditions and text for a token already in tokens_.
  TokenResult continue_with(int32_t id);

  int32_t id_ = -1;
  SequenceState state_ = SequenceState::waiting;
  std::vector<int32_t> tokens_;
  int n_prompt_;
  int n_computed_ = 0;
  int n_reused_ = 0;  // at the first admission (usage reports it)
  int n_preemptions_ = 0;
  sampling::Sampler sampler_;
  Continuation continuation_;
  FinishReason finish_reason_ = FinishReason::none;
  bool whole_prompt_ = false;
  bool pending_ = false;          // tokens_.back() is a placeholder (push_pending)
  bool pending_sampled_ = false;  // ... filled by sample_pending(): the sampler has taken it already
  sampling::SampledToken pending_logprobs_;
};

}  // namespace rbees::engine
