#include "sampling/row_weights.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace rbees::sampling {

namespace {

// Lanes of a partial sum or max (the compiler keeps them in vector registers), and tokens per block
// of the draw's coarse search.
constexpr size_t kLanes = 16;
constexpr size_t kBlock = 256;

}  // namespace

float row_max(std::span<const float> row) {
  // x86's max instructions are exactly `x > m ? x : m` (a NaN x leaves m), which GCC does not
  // vectorise from the C++ without -ffinite-math-only: written out with them, the widest the build
  // targets up to 256 bits (as wide as GCC vectorises for these machines), a vector of maxima.
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const float* in = row.data();
  const size_t n = row.size();
  size_t i = 0;
  float m = kNegInf;
#if defined(__AVX__)
  __m256 acc = _mm256_set1_ps(kNegInf);
  for (; i + 8 <= n; i += 8) acc = _mm256_max_ps(_mm256_loadu_ps(in + i), acc);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
#elif defined(__SSE2__)
  __m128 acc = _mm_set1_ps(kNegInf);
  for (; i + 4 <= n; i += 4) acc = _mm_max_ps(_mm_loadu_ps(in + i), acc);
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, acc);
#else
  float lanes[1] = {kNegInf};
#endif
  for (float l : lanes) m = l > m ? l : m;
  for (; i < n; ++i) m = in[i] > m ? in[i] : m;
  return m;
}

float row_min_finite(std::span<const float> row) {
  // As row_max, with -inf taken as +inf: `x < m ? x : m` is x86's min instruction (a NaN x leaves m).
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float* in = row.data();
  const size_t n = row.size();
  size_t i = 0;
  float m = kInf;
#if defined(__AVX__)
  const __m256 inf = _mm256_set1_ps(kInf);
  const __m256 ninf = _mm256_set1_ps(-kInf);
  __m256 acc = inf;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(in + i);
    acc = _mm256_min_ps(_mm256_blendv_ps(x, inf, _mm256_cmp_ps(x, ninf, _CMP_EQ_OQ)), acc);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
#elif defined(__SSE2__)
  const __m128 inf = _mm_set1_ps(kInf);
  const __m128 ninf = _mm_set1_ps(-kInf);
  __m128 acc = inf;
  for (; i + 4 <= n; i += 4) {
    const __m128 x = _mm_loadu_ps(in + i);
    const __m128 banned = _mm_cmpeq_ps(x, ninf);
    acc = _mm_min_ps(_mm_or_ps(_mm_and_ps(banned, inf), _mm_andnot_ps(banned, x)), acc);
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, acc);
#else
  float lanes[1] = {kInf};
#endif
  for (float l : lanes) m = l < m ? l : m;
  for (; i < n; ++i) m = (in[i] < m && in[i] > -kInf) ? in[i] : m;
  return m;
}

int32_t row_argmax(std::span<const float> row) {
  const float m = row_max(row);
  for (size_t i = 0; i < row.size(); ++i) {
    if (row[i] == m) return static_cast<int32_t>(i);
  }
  return 0;
}

double row_log_sum_exp(std::span<const float> row) {
  const float m = row_max(row);
  if (!(m > -std::numeric_limits<float>::infinity())) return -std::numeric_limits<double>::infinity();
  if (std::isinf(m)) return m;
  float lanes[kLanes] = {};
  const size_t whole = row.size() / kLanes * kLanes;
  const float* __restrict in = row.data();
  double sum = 0.0;
  // Summed in blocks: single-precision lanes stay exact enough over a block, and the blocks' sums
  // are added in double.
  for (size_t begin = 0; begin < whole; begin += kBlock) {
    const size_t end = std::min(whole, begin + kBlock);
    for (size_t i = begin; i < end; i += kLanes) {
      for (size_t j = 0; j < kLanes; ++j) lanes[j] += exp_nonpositive(in[i + j] - m);
    }
    for (float& l : lanes) {
      sum += l;
      l = 0.0f;
    }
  }
  for (size_t i = whole; i < row.size(); ++i) sum += exp_nonpositive(in[i] - m);
  return static_cast<double>(m) + std::log(sum);
}

bool RowWeights::compute(std::span<const float> row, float temperature) {
  total_ = 0.0;
  const float m = row_max(row);
  if (!(m > -std::numeric_limits<float>::infinity()) || std::isinf(m)) return false;
  const float inv_t = 1.0f / temperature;
  weights_.resize(row.size());
  block_sums_.resize((row.size() + kBlock - 1) / kBlock);
  const float* __restrict in = row.data();
  float* __restrict out = weights_.data();
  if (std::isinf(inv_t)) {
    // A temperature so small that 1/T overflows: the limit, the greatest logits alone, alike (0 * inf
    // would make their weight NaN).
    for (size_t i = 0; i < row.size(); ++i) out[i] = in[i] == m ? 1.0f : 0.0f;
  } else {
    for (size_t i = 0; i < row.size(); ++i) out[i] = exp_nonpositive((in[i] - m) * inv_t);
  }
  for (size_t b = 0; b < block_sums_.size(); ++b) {
    const size_t begin = b * kBlock;
    const size_t end = std::min(row.size(), begin + kBlock);
    const size_t whole = begin + (end - begin) / kLanes * kLanes;
    float lanes[kLanes] = {};
    for (size_t i = begin; i < whole; i += kLanes) {
      for (size_t j = 0; j < kLanes; ++j) lanes[j] += out[i + j];
    }
    for (size_t i = whole; i < end; ++i) lanes[i - whole] += out[i];
    double sum = 0.0;
    for (float s : lanes) sum += s;
    block_sums_[b] = sum;
    total_ += sum;
  }
  return total_ > 0.0;
}

int32_t RowWeights::draw(double u) const {
  const double target = u * total_;
  double cumulative = 0.0;
  size_t b = 0;
  // The block the target falls in; rounding may leave it past the last, which is then searched.
  while (b + 1 < block_sums_.size() && !(target < cumulative + block_sums_[b])) cumulative += block_sums_[b++];
  const size_t begin = b * kBlock;
  const size_t end = std::min(weights_.size(), begin + kBlock);
  for (size_t i = begin; i < end; ++i) {
    cumulative += weights_[i];
    if (target < cumulative) return static_cast<int32_t>(i);
  }
  // Rounding (the block's sum and its running sum differ in the last bits): the block's, else the
  // row's, last token of positive weight.
  for (size_t i = end; i-- > 0;) {
    if (weights_[i] > 0.0f) return static_cast<int32_t>(i);
  }
  return 0;  // unreachable after a compute() that returned true
}

}  // namespace rbees::sampling
