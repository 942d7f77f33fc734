#pragma once
// The individual logit transforms, in the order Sampler applies them. Each is a pure function over a
// candidate list so that tests can check them one by one.

#include "sampling/sampling_params.hpp"

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace rbees::sampling {

struct Candidate {
  int32_t id;
  float logit;
};

// Token id -> number of occurrences.
using TokenCounts = std::unordered_map<int32_t, int32_t>;

// Adds bias[id] to the logits of the listed ids that are in the vocabulary.
void apply_logit_bias(std::span<float> logits, const std::map<int32_t, float>& bias);

// transformers' RepetitionPenaltyLogitsProcessor: every token seen (prompt or output) gets its logit
// divided by the penalty when positive and multiplied by it otherwise.
void apply_repetition_penalty(std::span<float> logits, const TokenCounts& seen, float penalty);

// OpenAI: logit -= presence * (count > 0) + frequency * count, over generated tokens.
void apply_presence_frequency_penalty(std::span<float> logits, const TokenCounts& generated, float presence,
                                      float frequency);

// Divides every logit by the temperature (> 0). The sampler makes the same division in
// select_candidates, as it lists the candidates.
void apply_temperature(std::vector<Candidate>& candidates, float temperature);

// The following three always keep at least one candidate, and when they remove any, leave the
// survivors sorted by logit, highest first (ties by lower id).

// Keeps the k highest logits (k <= 0 or k >= size: all, sorted).
void apply_top_k(std::vector<Candidate>& candidates, int32_t k);

// Keeps the smallest highest-probability prefix whose probability mass reaches p. mass_left_out: the
// weight exp(logit - max) of tokens not in the list (select_candidates leaves out tokens that cannot
// be in the nucleus, but they count in its total); the list's max must be the row's.
void apply_top_p(std::vector<Candidate>& candidates, float p, double mass_left_out = 0.0);

// apply_top_p's buckets: a token of logit l under the greatest logit m lies in bucket
// floor((m - l) * log2(e)), that is by log2 of its weight exp(l - m), the last bucket taking every
// deeper one (-inf and NaN included). Higher buckets hold strictly lower logits.
inline constexpr int kTopPBuckets = 128;
inline uint8_t top_p_bucket(float max_logit, float logit) {
  constexpr float kLog2e = 1.44269504088896341f;
  const float depth = (max_logit - logit) * kLog2e;  // >= 0; +inf for -inf, NaN for NaN
  return static_cast<uint8_t>(depth < static_cast<float>(kTopPBuckets - 1) ? depth : kTopPBuckets - 1);
}

// Keeps the candidates whose probability is at least min_p times the highest probability.
void apply_min_p(std::vector<Candidate>& candidates, float min_p);

// Sorts highest logit first, ties by lower id, so that the order never depends on the sort algorithm.
void sort_candidates(std::vector<Candidate>& candidates);

}  // namespace rbees::sampling
