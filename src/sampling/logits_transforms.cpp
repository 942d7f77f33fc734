#include "sampling/logits_transforms.hpp"

#include "sampling/row_weights.hpp"

#include <algorithm>
#include <array>
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

void apply_top_p(std::vector<Candidate>& candidates, float p, double mass_left_out) {
  if (p >= 1.0f || candidates.empty()) return;
  float max_logit = -std::numeric_limits<float>::infinity();
  for (const auto& c : candidates) max_logit = std::max(max_logit, c.logit);
  // Tokens fall into buckets by log2 of their weight (top_p_bucket); the buckets' masses find the
  // one where the nucleus ends, and only that bucket is sorted (the nucleus of a large vocabulary is
  // usually a small part of it, and even a flat one is not sorted whole).
  thread_local std::vector<float> weights;
  thread_local std::vector<uint8_t> bucket_of;
  weights.resize(candidates.size());
  bucket_of.resize(candidates.size());
  std::array<double, kTopPBuckets> mass{};
  for (size_t i = 0; i < candidates.size(); ++i) {
    const uint8_t b = top_p_bucket(max_logit, candidates[i].logit);
    weights[i] = exp_nonpositive(candidates[i].logit - max_logit);
    bucket_of[i] = b;
    mass[b] += weights[i];
  }
  double total = mass_left_out;
  for (double m : mass) total += m;
  const double target = static_cast<double>(p) * total;
  double above = 0.0;
  int edge = 0;
  while (edge < kTopPBuckets && above + mass[edge] < target) above += mass[edge++];
  if (edge == kTopPBuckets) {  // rounding: the whole mass fell just short of p
    sort_candidates(candidates);
    return;
  }
  // The buckets above the edge whole, then the edge bucket's best tokens until the mass is reached.
  thread_local std::vector<Candidate> inside;
  thread_local std::vector<std::pair<Candidate, float>> at_edge;
  inside.clear();
  at_edge.clear();
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (bucket_of[i] < edge) inside.push_back(candidates[i]);
    if (bucket_of[i] == edge) at_edge.push_back({candidates[i], weights[i]});
  }
  sort_candidates(inside);
  std::sort(at_edge.begin(), at_edge.end(),
            [](const auto& a, const auto& b) { return higher_first(a.first, b.first); });
  double cumulative = above;
  for (const auto& [c, w] : at_edge) {
    inside.push_back(c);
    cumulative += w;
    if (cumulative >= target) break;
  }
  candidates.assign(inside.begin(), inside.end());
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
