#include "sampling/candidate_selection.hpp"

#include "sampling/row_weights.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

namespace rbees::sampling {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The passes' working rows: the row at the temperature (the division apply_temperature makes, so that
// every comparison below is on the values the transforms see), and top-p's weights and buckets.
struct Scaled {
  std::vector<float> values;
  std::vector<float> weights;
  std::vector<uint8_t> buckets;
};

Scaled& scratch() {
  thread_local Scaled s;
  return s;
}

// In blocks whose counts add up in 32-bit lanes (the compiler vectorises the block's loop).
constexpr size_t kBlock = 64;

size_t count_at_least(std::span<const float> v, float threshold) {
  size_t n = 0;
  size_t i = 0;
  for (; i + kBlock <= v.size(); i += kBlock) {
    uint32_t block = 0;
    for (size_t j = i; j < i + kBlock; ++j) block += v[j] >= threshold ? 1u : 0u;
    n += block;
  }
  for (; i < v.size(); ++i) n += v[i] >= threshold ? 1 : 0;
  return n;
}

void keep_all(std::span<const float> v, std::vector<Candidate>& out) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] > kNegInf) out.push_back({static_cast<int32_t>(i), v[i]});
  }
}

void keep_at_least(std::span<const float> v, float threshold, std::vector<Candidate>& out) {
  // Most blocks hold no such token: a block's count (vectorised) passes them over in one test.
  size_t i = 0;
  for (; i + kBlock <= v.size(); i += kBlock) {
    uint32_t hits = 0;
    for (size_t j = i; j < i + kBlock; ++j) hits += v[j] >= threshold ? 1u : 0u;
    if (hits == 0) continue;
    for (size_t j = i; j < i + kBlock; ++j) {
      if (v[j] >= threshold) out.push_back({static_cast<int32_t>(j), v[j]});
    }
  }
  for (; i < v.size(); ++i) {
    if (v[i] >= threshold) out.push_back({static_cast<int32_t>(i), v[i]});
  }
}

// The tokens at or above the k-th highest value: a threshold below the greatest value, lowered four
// times further each pass until at least k values reach it (five passes at most, each a count the
// compiler vectorises), then raised again by halves while far more than k reach it (three passes at
// most), and one pass keeps them. A threshold at or below the least finite value, or a k of the whole
// row, keeps every token.
void keep_top_k(std::span<const float> v, float hi, size_t k, std::vector<Candidate>& out) {
  if (k >= v.size()) {
    keep_all(v, out);
    return;
  }
  const float lo = row_min_finite(v);
  float delta = (hi - lo) / 256.0f;
  if (!(delta > 0.0f) || !std::isfinite(delta)) {
    keep_all(v, out);
    return;
  }
  float above = hi;  // fewer than k values reach it (the greatest alone, or a threshold tried)
  for (;;) {
    const float threshold = hi - delta;
    if (threshold <= lo) {
      keep_all(v, out);
      return;
    }
    size_t n = count_at_least(v, threshold);
    if (n < k) {
      above = threshold;
      delta *= 4.0f;
      continue;
    }
    float at = threshold;  // n >= k values reach it
    for (int i = 0; i < 3 && n > 4 * k; ++i) {
      const float mid = above - (above - at) / 2.0f;
      if (!(mid > at && mid < above)) break;
      const size_t m = count_at_least(v, mid);
      if (m >= k) {
        at = mid;
        n = m;
      } else {
        above = mid;
      }
    }
    keep_at_least(v, at, out);
    return;
  }
}

// The tokens of the buckets down to one past the nucleus's edge (a margin for the order in which the
// masses are summed here and there); returns the mass of the buckets left out.
double keep_nucleus_buckets(std::span<const float> v, float hi, float p, std::vector<Candidate>& out) {
  Scaled& s = scratch();
  const size_t n = v.size();
  s.weights.resize(n);
  s.buckets.resize(n);
  float* __restrict w = s.weights.data();
  uint8_t* __restrict b = s.buckets.data();
  const float* __restrict in = v.data();
  for (size_t i = 0; i < n; ++i) w[i] = exp_nonpositive(in[i] - hi);
  for (size_t i = 0; i < n; ++i) b[i] = top_p_bucket(hi, in[i]);
  // Four histograms in turn: consecutive tokens mostly share a bucket, and one histogram would make
  // every addition wait for the one before.
  std::array<std::array<double, kTopPBuckets>, 4> part{};
  for (size_t i = 0; i < n; ++i) part[i & 3][b[i]] += w[i];
  std::array<double, kTopPBuckets> mass{};
  double total = 0.0;
  for (int j = 0; j < kTopPBuckets; ++j) {
    mass[j] = (part[0][j] + part[1][j]) + (part[2][j] + part[3][j]);
    total += mass[j];
  }
  const double target = static_cast<double>(p) * total;
  double above = 0.0;
  int edge = 0;
  while (edge < kTopPBuckets && above + mass[edge] < target) above += mass[edge++];
  const int last = std::min(edge + 1, kTopPBuckets - 1);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] <= last && in[i] > kNegInf) out.push_back({static_cast<int32_t>(i), in[i]});
  }
  double left_out = 0.0;
  for (int j = last + 1; j < kTopPBuckets; ++j) left_out += mass[j];
  return left_out;
}

}  // namespace

void select_top(std::span<const float> row, size_t k, std::vector<Candidate>& out) {
  out.clear();
  const float hi = row_max(row);
  if (!(hi > kNegInf) || k == 0) return;
  if (std::isinf(hi)) {
    keep_all(row, out);
    return;
  }
  keep_top_k(row, hi, k, out);
}

CandidateSelection select_candidates(std::span<const float> row, const SamplingParams& params,
                                     std::vector<Candidate>& out) {
  out.clear();
  Scaled& s = scratch();
  s.values.resize(row.size());
  const float t = params.temperature;
  float* __restrict scaled = s.values.data();
  for (size_t i = 0; i < row.size(); ++i) scaled[i] = row[i] / t;
  const std::span<const float> v(s.values);
  const float hi = row_max(v);
  if (!(hi > kNegInf)) return {};  // nothing to draw from
  if (std::isinf(hi)) {
    // A +inf logit, or a temperature so small that the greatest logits overflow: all the probability
    // is on the row's greatest logits (the limit as the temperature goes to 0), alike, so they are
    // listed at 0 and the transforms see equal tokens, not infinities.
    const float raw_hi = row_max(row);
    for (size_t i = 0; i < row.size(); ++i) {
      if (row[i] == raw_hi) out.push_back({static_cast<int32_t>(i), 0.0f});
    }
    return {};
  }
  if (params.top_k > 0) {
    keep_top_k(v, hi, static_cast<size_t>(params.top_k), out);
    return {};
  }
  if (params.top_p < 1.0f) return {keep_nucleus_buckets(v, hi, params.top_p, out)};
  if (params.min_p > 0.0f) {
    // apply_min_p's own test: the greatest value, or at least min_p of its probability.
    const double threshold = static_cast<double>(hi) + std::log(static_cast<double>(params.min_p));
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == hi || static_cast<double>(v[i]) >= threshold) out.push_back({static_cast<int32_t>(i), v[i]});
    }
    return {};
  }
  keep_all(v, out);
  return {};
}

}  // namespace rbees::sampling
