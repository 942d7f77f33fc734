#include "sampling/logits_transforms.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rbees::sampling {

namespace {

bool higher_first(const Candidate& a, const Candidate& b) {
  if (a.logit != b.logit) return a.logit > b.logit;
  return a.id < b.id;
}

bool in_vocab(int32_t id, std::span<float> logits) {
  return id >= 0 && static_cast<size_t>(id) < logits.size();
}

}  // namespace

void sort_candidates(std::vector<Candidate>& candidates) {
  std::sort(candidates.begin(), candidates.end(), higher_first);
}

void apply_logit_bias(std::span<float> logits, const std::map<int32_t, float>& bias) {
  for (const auto& [id, value] : bias) {
    if (in_vocab(id, logits)) logits[id] += value;
  }
}

void apply_repetition_penalty(std::span<float> logits, const TokenCounts& seen, float penalty) {
  if (penalty == 1.0f) return;
  for (const auto& [id, count] : seen) {
    if (count <= 0 || !in_vocab(id, logits)) continue;
    float& l = logits[id];
    l = l > 0.0f ? l / penalty : l * penalty;
  }
}

void apply_presence_frequency_penalty(std::span<float> logits, const TokenCounts& generated, float presence,
                                      float frequency) {
  if (presence == 0.0f && frequency == 0.0f) return;
  for (const auto& [id, count] : generated) {
    if (count <= 0 || !in_vocab(id, logits)) continue;
    logits[id] -= presence + frequency * static_cast<float>(count);
  }
}

void apply_temperature(std::vector<Candidate>& candidates, float temperature) {
  if (temperature == 1.0f) return;
  for (auto& c : candidates) c.logit /= temperature;
}

void apply_top_k(std::vector<Candidate>& candidates, int32_t k) {
  if (k > 0 && static_cast<size_t>(k) < candidates.size()) {
    // Only the k best need ordering; the rest are dropped.
    std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end(), higher_first);
    candidates.resize(k);
  } else {
    sort_candidates(candidates);
  }
}

void apply_top_p(std::vector<Candidate>& candidates, float p) {
  if (p >= 1.0f || candidates.empty()) return;
  double max_logit = -std::numeric_limits<double>::infinity();
  for (const auto& c : candidates) max_logit = std::max<double>(max_logit, c.logit);
  double total = 0.0;
  for (const auto& c : candidates) total += std::exp(static_cast<double>(c.logit) - max_logit);
  const double target = static_cast<double>(p) * total;

  // The nucleus is usually a small fraction of a large vocabulary: order only a growing head of the
  // candidates until it holds the mass, instead of sorting them all.
  size_t sorted = 0;
  double cumulative = 0.0;
  size_t head = std::min<size_t>(candidates.size(), 64);
  while (true) {
    std::partial_sort(candidates.begin() + sorted, candidates.begin() + head, candidates.end(), higher_first);
    for (; sorted < head; ++sorted) {
      cumulative += std::exp(static_cast<double>(candidates[sorted].logit) - max_logit);
      if (cumulative >= target) {
        candidates.resize(sorted + 1);
        return;
      }
    }
    if (head == candidates.size()) return;  // rounding: the whole mass fell just short of p
    head = std::min(candidates.size(), head * 4);
  }
}

void apply_min_p(std::vector<Candidate>& candidates, float min_p) {
  if (min_p <= 0.0f || candidates.empty()) return;
  float max_logit = -std::numeric_limits<float>::infinity();
  for (const auto& c : candidates) max_logit = std::max(max_logit, c.logit);
  // p_i / p_max = exp(l_i - l_max), so the threshold needs no normalisation.
  const double threshold = static_cast<double>(max_logit) + std::log(static_cast<double>(min_p));
  std::erase_if(candidates,
                [&](const Candidate& c) { return c.logit != max_logit && static_cast<double>(c.logit) < threshold; });
  sort_candidates(candidates);
}

}  // namespace rbees::sampling
