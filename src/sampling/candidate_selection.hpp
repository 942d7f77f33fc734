#pragma once
// The candidate list a truncating draw starts from: the row's tokens at the temperature, less the
// ones its truncations are certain to drop, found in a few passes over the row instead of a list of
// the whole vocabulary that is then sorted or scanned token by token (a large vocabulary's worth of
// work for every token of every sampled sequence).

#include <span>
#include <vector>

#include "sampling/logits_transforms.hpp"
#include "sampling/sampling_params.hpp"

namespace rbees::sampling {

struct CandidateSelection {
  // Of the row's tokens left out, the sum of exp(logit / T - max) (max: the greatest logit / T),
  // which apply_top_p counts in its total; 0 when none with weight was left out.
  double mass_left_out = 0.0;
};

// Fills `out` (cleared first) with {id, logit / temperature} in id order for the tokens of `row` a
// draw with `params` (temperature > 0) may still pick, NaN and -inf logits never among them:
// - with top_k = k: the tokens at or above the k-th highest logit / temperature, ties included
//   (apply_top_k keeps k of them: the same k as from the whole row);
// - else with top_p < 1: the tokens whose weight lies in the log2 buckets down to one past where the
//   nucleus ends (apply_top_p, given mass_left_out, keeps what it keeps from the whole row; the
//   buckets are as apply_top_p's);
// - else with min_p alone: the tokens apply_min_p keeps;
// - else every token.
// Where the greatest logit / temperature is +inf (a +inf logit, or a temperature so small that the
// division overflows), the list is the tokens of the row's greatest logit, each at 0 (the limit).
CandidateSelection select_candidates(std::span<const float> row, const SamplingParams& params,
                                     std::vector<Candidate>& out);

// Fills `out` (cleared first) with {id, value} in id order for the tokens of `row` at or above its
// k-th highest value, ties included: the k highest by (value, then lower id) are among them. -inf
// and NaN values are never listed, so the list is shorter than k where fewer are finite.
void select_top(std::span<const float> row, size_t k, std::vector<Candidate>& out);

}  // namespace rbees::sampling
