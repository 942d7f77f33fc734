#pragma once
// Drawing a token from a whole logits row at a temperature: w_i = exp((l_i - max) / T), then the
// first index whose cumulative weight passes u * sum. A server does this for every token of every
// sampled sequence, over the whole vocabulary, so the exponentials are single precision in a form
// the compiler vectorises (relative error about 2e-7, far below anything a draw can show), and the
// sums run in fixed lanes and blocks, so that a seeded draw does not depend on the vector width the
// machine has.

#include <bit>
#include <cstdint>
#include <span>
#include <vector>

namespace rbees::sampling {

// exp(x) for x <= 0; exactly 1 at 0, and 0 below -87 (where exp is under 1.7e-38), for -inf and NaN.
// Cephes' expf reduction and polynomial, with no branches.
inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  const bool under = !(x >= -87.0f);
  x = under ? -87.0f : x;
  // n = round(x * log2(e)) by the float-add trick (1.5 * 2^23 leaves no fraction bits), so that no
  // float-int conversion stands in the way of vectorising; the low bits of t are then n itself.
  constexpr float kRound = 12582912.0f;
  const float t = x * kLog2e + kRound;
  const float fn = t - kRound;
  const int32_t n = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kRound);
  float r = x - fn * kLn2Hi;
  r = r - fn * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = (p * r * r + r + 1.0f) * std::bit_cast<float>(static_cast<uint32_t>(n + 127) << 23);
  return under ? 0.0f : y;
}

// The largest value of a row (-inf for an empty row; NaNs are passed over).
float row_max(std::span<const float> row);

// The index of the row's largest value, the first of equal ones (std::max_element's choice for a row
// with no NaN); 0 for an empty row or one of -inf alone.
int32_t row_argmax(std::span<const float> row);

// log(sum(exp(row))) over the row, from single-precision exponentials summed in double (absolute
// error about 1e-6); -inf for an empty row or one of -inf alone.
double row_log_sum_exp(std::span<const float> row);

class RowWeights {
 public:
  // The weights of `row` at `temperature` (> 0). False when no token has positive weight (every logit
  // -inf or NaN) or the largest is +inf: the caller then takes the argmax.
  bool compute(std::span<const float> row, float temperature);

  // The token whose cumulative weight first passes u * total (u in [0, 1)); a token of weight 0 is
  // never returned.
  int32_t draw(double u) const;

  double total() const { return total_; }
  std::span<const float> weights() const { return weights_; }

 private:
  std::vector<float> weights_;
  std::vector<double> block_sums_;
  double total_ = 0.0;
};

}  // namespace rbees::sampling
