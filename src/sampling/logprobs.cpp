#include "sampling/logprobs.hpp"

#include "sampling/candidate_selection.hpp"
#include "sampling/logits_transforms.hpp"
#include "sampling/row_weights.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace rbees::sampling {

double log_sum_exp(std::span<const float> logits) {
  return row_log_sum_exp(logits);
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int32_t n) {
  return top_logprobs(logits, n, log_sum_exp(logits));
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int32_t n, double lse) {
  const size_t count = std::min<size_t>(std::max<int32_t>(n, 0), logits.size());
  std::vector<TokenLogprob> out;
  if (count == 0) return out;
  out.reserve(count);
  // The tokens that can be among the best `count`, found by passes over the row, then the best of
  // them in order (apply_top_k: highest first, ties to the lower id).
  thread_local std::vector<Candidate> top;
  select_top(logits, count, top);
  if (top.size() >= count) {
    apply_top_k(top, static_cast<int32_t>(count));
    for (const Candidate& c : top) out.push_back({c.id, static_cast<float>(static_cast<double>(c.logit) - lse)});
    return out;
  }
  // Fewer finite logits than asked for (a grammar's mask bans most of the vocabulary): the rest are
  // -inf (or NaN), ordered with the others over the whole row. Kept per thread: a vocabulary's ids
  // are hundreds of KiB, mapped and unmapped on every call otherwise.
  thread_local std::vector<int32_t> ids;
  ids.resize(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(count), ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] != logits[b] ? logits[a] > logits[b] : a < b; });
  for (size_t i = 0; i < count; ++i) {
    out.push_back({ids[i], static_cast<float>(static_cast<double>(logits[ids[i]]) - lse)});
  }
  return out;
}

float token_logprob(std::span<const float> logits, int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= logits.size()) throw std::out_of_range("token id outside the vocabulary");
  return token_logprob(logits, id, log_sum_exp(logits));
}

float token_logprob(std::span<const float> logits, int32_t id, double lse) {
  if (id < 0 || static_cast<size_t>(id) >= logits.size()) throw std::out_of_range("token id outside the vocabulary");
  return static_cast<float>(static_cast<double>(logits[id]) - lse);
}

}  // namespace rbees::sampling
