#pragma once
// Rotary position embedding over ggml_rope_ext, and the per-dimension frequency factors of the
// "llama3" scaling scheme.

#include <ggml.h>

#include <vector>

namespace rbees::ops {

// Which pairs of a head's dimensions rotate together. Hugging Face weights pair dimension i with
// i + head_dim/2 (NeoX); GGUF files from llama.cpp's converter permute Q/K rows so that pairs are
// adjacent (2i, 2i+1).
enum class RopeLayout { neox, interleaved };

struct RopeParams {
  int n_dims = 0;  // rotated dimensions per head (the head size for Llama)
  RopeLayout layout = RopeLayout::neox;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;  // 1/factor for linear scaling
  int n_ctx_orig = 0;       // the training context, used by YaRN only
  float ext_factor = 0.0f;  // YaRN extrapolation mix; 0 disables YaRN
  float attn_factor = 1.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
};

// x: F32 [head_dim, n_heads, n_tokens]; positions: I32 [n_tokens]; freq_factors: F32 [n_dims/2]
// or null. Dimension pair i rotates by pos * freq_scale * base^(-2i/n_dims) / freq_factors[i].
ggml_tensor* rope(ggml_context* ctx, ggml_tensor* x, ggml_tensor* positions, ggml_tensor* freq_factors,
                  const RopeParams& p);

}  // namespace rbees::ops
