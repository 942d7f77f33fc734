#include "sampling/logprobs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace rbees::sampling {

double log_sum_exp(std::span<const float> logits) {
  if (logits.empty()) return -std::numeric_limits<double>::infinity();
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  if (std::isinf(max_logit) && max_logit < 0) return max_logit;
  double sum = 0.0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max_logit);
  return max_logit + std::log(sum);
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int32_t n) {
  const size_t count = std::min<size_t>(std::max<int32_t>(n, 0), logits.size());
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  std::partial_sort(ids.begin(), ids.begin() + count, ids.end(), [&](int32_t a, int32_t b) {
    if (logits[a] != logits[b]) return logits[a] > logits[b];
    return a < b;
  });
  const double lse = log_sum_exp(logits);
  std::vector<TokenLogprob> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    out.push_back({ids[i], static_cast<float>(static_cast<double>(logits[ids[i]]) - lse)});
  }
  return out;
}

float token_logprob(std::span<const float> logits, int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= logits.size()) throw std::out_of_range("token id outside the vocabulary");
  return static_cast<float>(static_cast<double>(logits[id]) - log_sum_exp(logits));
}

}  // namespace rbees::sampling
