#pragma once
// Grouped-query attention of a batch of queries over a set of key/value cells, with an additive
// mask (0 where a query may look, -INF elsewhere) that encodes causality and which sequence each
// cell belongs to.

#include <ggml.h>

namespace rbees::ops {

struct AttentionParams {
  float scale = 1.0f;  // 1/sqrt(head_dim) for Llama
  bool flash = false;  // ggml_flash_attn_ext instead of mul_mat + soft_max + mul_mat
};

// q: F32 [head_dim, n_head, n_tokens] (rotated);
// k, v: [head_dim, n_head_kv, n_kv] (F32 or F16; rows of head_dim contiguous, e.g. views of a cache);
// mask: [n_kv, n_tokens], F32 or, for the flash path, F16 (this ggml needs no row padding; the flash
// path converts an F32 mask itself).
// n_head must be a multiple of n_head_kv: query head h reads key/value head h / (n_head / n_head_kv).
// Returns F32 [head_dim, n_head, n_tokens], contiguous.
ggml_tensor* attention(ggml_context* ctx, ggml_tensor* q, ggml_tensor* k, ggml_tensor* v, ggml_tensor* mask,
                       const AttentionParams& p);

}  // namespace rbees::ops
