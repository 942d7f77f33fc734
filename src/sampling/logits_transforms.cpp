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
  if (!std::is_sorted(candidates.begin(), candidates.end(), higher_first)) sort_candidates(candidates);
  if (p >= 1.0f || candidates.empty()) return;
  const double max_logit = candidates.front().logit;
  double total = 0.0;
  for (const auto& c : candidates) total += std::exp(static_cast<double>(c.logit) - max_logit);
  double cumulative = 0.0;
  size_t keep = candidates.size();
  for (size_t i = 0; i < candidates.size(); ++i) {
    cumulative += std::exp(static_cast<double>(candidates[i].logit) - max_logit) / total;
    if (cumulative >= p) {
      keep = i + 1;
      break;
    }
  }
  candidates.resize(std::max<size_t>(keep, 1));
}

void apply_min_p(std::vector<Candidate>& candidates, float min_p) {
  if (!std::is_sorted(candidates.begin(), candidates.end(), higher_first)) sort_candidates(candidates);
  if (min_p <= 0.0f || candidates.empty()) return;
  // p_i / p_max = exp(l_i - l_max), so the threshold needs no normalisation.
  const double threshold = static_cast<double>(candidates.front().logit) + std::log(static_cast<double>(min_p));
  size_t keep = 1;
  while (keep < candidates.size() && static_cast<double>(candidates[keep].logit) >= threshold) ++keep;
  candidates.resize(keep);
}

}  // namespace rbees::sampling
