#pragma once
// Drawing a token from a whole logits row at a temperature: w_i = exp((l_i - max) / T), then the
// first index whose cumulative weight passes u * sum. A server does this for every token of every
// sampled sequence, over the whole vocabulary, so the exponentials are single precision in a form
// the compiler vectorises (relative error about 2e-7, far below anything a draw can show), and the
// sums run in fixed lanes and blocks, so that a seeded draw does not depend on the vector width the
// machine has.

#include <cstdint>
#include <span>
#include <vector>

#include "core/fast_exp.hpp"

namespace rbees::sampling {

using core::exp_nonpositive;

// The largest value of a row (-inf for an empty row; NaNs are passed over).
float row_max(std::span<const float> row);

// The smallest value of a row above -inf (+inf when there is none; NaNs are passed over).
float row_min_finite(std::span<const float> row);

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
