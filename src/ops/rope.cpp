#include "ops/rope.hpp"

#include <cmath>
#include <numbers>

namespace rbees::ops {

ggml_tensor* rope(ggml_context* ctx, ggml_tensor* x, ggml_tensor* positions, ggml_tensor* freq_factors,
                  const RopeParams& p) {
  const int mode = p.layout == RopeLayout::neox ? GGML_ROPE_TYPE_NEOX : GGML_ROPE_TYPE_NORMAL;
  return ggml_rope_ext(ctx, x, positions, freq_factors, p.n_dims, mode, p.n_ctx_orig, p.freq_base, p.freq_scale,
                       p.ext_factor, p.attn_factor, p.beta_fast, p.beta_slow);
}

std::vector<float> llama3_freq_factors(int n_dims, float freq_base, float factor, float low_freq_factor,
                                       float high_freq_factor, int original_context) {
  const double low_freq_wavelen = original_context / low_freq_factor;
  const double high_freq_wavelen = original_context / high_freq_factor;
  std::vector<float> factors;
  factors.reserve(n_dims / 2);
  for (int i = 0; i < n_dims; i += 2) {
    const double inv_freq = 1.0 / std::pow(static_cast<double>(freq_base), static_cast<double>(i) / n_dims);
    const double wavelen = 2.0 * std::numbers::pi / inv_freq;
    if (wavelen < high_freq_wavelen) {
      factors.push_back(1.0f);
    } else if (wavelen > low_freq_wavelen) {
      factors.push_back(factor);
    } else {
      // transformers blends the scaled and unscaled frequency: f' = (1-s) f/factor + s f.
      const double smooth = (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      factors.push_back(static_cast<float>(1.0 / ((1.0 - smooth) / factor + smooth)));
    }
  }
  return factors;
}

}  // namespace rbees::ops
