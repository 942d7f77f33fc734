#pragma once
// Token choice for one sequence: its parameters, its own random stream and its token history.
// The random stream depends only on the request (its seed), never on other sequences in a batch.

#include "sampling/logits_constraint.hpp"
#include "sampling/logits_transforms.hpp"
#include "sampling/logprobs.hpp"
#include "sampling/sampling_params.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <vector>

namespace rbees::sampling {

struct SampledToken {
  int32_t id = -1;
  float logprob = 0.0f;           // of `id`, see logprobs.hpp
  std::vector<TokenLogprob> top;  // the n most likely alternatives, when asked for
};

class Sampler {
 public:
  explicit Sampler(SamplingParams params, std::span<const int32_t> prompt = {});

  // Picks the next token from one row of logits and records it as generated.
  int32_t sample(std::span<const float> logits);

  // Same choice as sample(), also reporting log-probabilities (n_top alternatives; 0 for none).
  SampledToken sample_with_logprobs(std::span<const float> logits, int32_t n_top);

  // Records a token produced outside sample() (e.g. a forced token, or a greedy pick made by the
  // model's graph) in the history, and advances the constraint. Throws std::logic_error for a token
  // the constraint does not allow.
  void accept(int32_t id);

  // Restricts every later choice to the tokens the constraint allows: its mask applies before bias,
  // penalties and the rest, and the sampler is no longer plain greedy (the host must see the mask).
  void set_constraint(std::unique_ptr<LogitsConstraint> constraint) { constraint_ = std::move(constraint); }
  bool constrained() const { return constraint_ != nullptr; }

  // Computes ahead what the next choice needs from the tokens taken so far alone (the constraint's
  // mask, kept until the next accept()), so that it can run while the logits are being computed.
  // Changes no choice.
  void prepare();

  // Whether sample() is the plain argmax of the logits row: greedy, no bias, no penalties. Then the
  // pick may be made elsewhere (on the device) and passed to accept().
  bool plain_greedy() const;
  // Whether sample() is the argmax of the logits among the constraint's allowed tokens alone (greedy,
  // constrained, no bias, no penalties): the pick may then be made elsewhere over the logits with
  // allowed() applied as a mask, and passed to accept().
  bool masked_greedy() const;
  // The constraint's mask for the next token (prepare()), empty when unconstrained.
  std::span<const uint64_t> allowed() { return constraint_ ? constraint_->allowed() : std::span<const uint64_t>{}; }

  // The seed the random stream started from (drawn from std::random_device when none was given).
  uint64_t seed() const { return seed_; }
  const SamplingParams& params() const { return params_; }

  // Logits after the constraint's mask, bias and penalties: the basis of greedy choice and of the
  // reported log-probabilities.
  std::vector<float> adjusted_logits(std::span<const float> logits) const;

 private:
  void adjust_into(std::span<const float> logits, std::vector<float>& out) const;
  // The row after mask, bias and penalties: in this thread's scratch, or the row itself when none apply.
  std::span<const float> adjusted_or_row(std::span<const float> logits) const;
  int32_t choose(std::span<const float> adjusted);
  bool adjusts_logits() const;  // a bias or a penalty
  bool truncates() const;       // top-k, top-p or min-p
  double uniform01();

  SamplingParams params_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  TokenCounts seen_;       // prompt and output, for the repetition penalty
  TokenCounts generated_;  // output only, for presence and frequency penalties
  std::unique_ptr<LogitsConstraint> constraint_;
};

}  // namespace rbees::sampling
