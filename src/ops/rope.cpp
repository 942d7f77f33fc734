#include "ops/rope.hpp"

namespace rbees::ops {

ggml_tensor* rope(ggml_context* ctx, ggml_tensor* x, ggml_tensor* positions, ggml_tensor* freq_factors,
                  const RopeParams& p) {
  const int mode = p.layout == RopeLayout::neox ? GGML_ROPE_TYPE_NEOX : GGML_ROPE_TYPE_NORMAL;
  return ggml_rope_ext(ctx, x, positions, freq_factors, p.n_dims, mode, p.n_ctx_orig, p.freq_base, p.freq_scale,
                       p.ext_factor, p.attn_factor, p.beta_fast, p.beta_slow);
}

}  // namespace rbees::ops
