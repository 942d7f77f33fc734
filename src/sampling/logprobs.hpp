#pragma once
// Log-probabilities reported to clients (OpenAI `logprobs` / `top_logprobs`).
//
// Choice: they are the log-softmax of the logits after logit bias and penalties, before temperature
// and truncation (top-k/top-p/min-p). That is the distribution of the model as the request shaped it,
// independent of how randomly the token was then drawn, so a greedy and a sampled request over the
// same text report the same numbers, and with no bias or penalty they equal the model's own
// log-softmax.

#include <cstdint>
#include <span>
#include <vector>

namespace rbees::sampling {

struct TokenLogprob {
  int32_t id;
  float logprob;
};

// log(sum(exp(logits))), computed stably; -inf when every logit is -inf.
double log_sum_exp(std::span<const float> logits);

// The n highest-probability tokens, highest first (ties by lower id).
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int32_t n);
// The same with the row's log_sum_exp() already computed (a sampled token's and its alternatives'
// log-probabilities share it: it is a pass over the whole vocabulary).
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int32_t n, double lse);

// Log-probability of one token.
float token_logprob(std::span<const float> logits, int32_t id);
float token_logprob(std::span<const float> logits, int32_t id, double lse);

}  // namespace rbees::sampling
