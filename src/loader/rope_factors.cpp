#include "loader/rope_factors.hpp"

#include <cmath>
#include <numbers>

namespace rbees::loader {

std::vector<float> llama3_rope_factors(const RopeConfig& rope, int head_dim) {
  std::vector<float> factors(static_cast<std::size_t>(head_dim / 2), 1.0f);
  if (rope.scaling != RopeScaling::llama3) return factors;
  const double old_ctx = rope.original_context;
  const double low_wavelen = old_ctx / rope.low_freq_factor;
  const double high_wavelen = old_ctx / rope.high_freq_factor;
  for (std::size_t i = 0; i < factors.size(); ++i) {
    // float32 like the reference: inv_freq = 1 / theta^(2i/d)
    const float freq = 1.0f / std::pow(rope.theta, static_cast<float>(2 * i) / static_cast<float>(head_dim));
    const double wavelen = 2.0 * std::numbers::pi / freq;
    if (wavelen < high_wavelen) {
      factors[i] = 1.0f;
    } else if (wavelen > low_wavelen) {
      factors[i] = rope.factor;
    } else {
      const double smooth = (old_ctx / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
      factors[i] = static_cast<float>(1.0 / ((1.0 - smooth) / rope.factor + smooth));
    }
  }
  return factors;
}

}  // namespace rbees::loader
