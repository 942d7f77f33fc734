#include "ops/attention.hpp"

namespace rbees::ops {

ggml_tensor* attention(ggml_context* ctx, ggml_tensor* q, ggml_tensor* k, ggml_tensor* v, ggml_tensor* mask,
                       const AttentionParams& p) {
  // Heads become the batch dimension of the matrix products.
  q = ggml_permute(ctx, q, 0, 2, 1, 3);  // [head_dim, n_tokens, n_head]
  k = ggml_permute(ctx, k, 0, 2, 1, 3);  // [head_dim, n_kv, n_head_kv]

  if (p.flash) {
    v = ggml_permute(ctx, v, 0, 2, 1, 3);  // [head_dim, n_kv, n_head_kv]
    // The flash kernels of the GPU backends take F16 keys, values and mask.
    if (k->type == GGML_TYPE_F32) k = ggml_cast(ctx, k, GGML_TYPE_F16);
    if (v->type == GGML_TYPE_F32) v = ggml_cast(ctx, v, GGML_TYPE_F16);
    if (mask->type != GGML_TYPE_F16) mask = ggml_cast(ctx, mask, GGML_TYPE_F16);
    ggml_tensor* out = ggml_flash_attn_ext(ctx, q, k, v, mask, p.scale, 0.0f, 0.0f);
    ggml_prec_set_acc(out, GGML_PREC_F32);
    return out;  // already [head_dim, n_head, n_tokens]
  }

  ggml_tensor* kq = ggml_mul_mat(ctx, k, q);  // [n_kv, n_tokens, n_head]
  ggml_prec_set_acc(kq, GGML_PREC_F32);
  kq = ggml_soft_max_ext(ctx, kq, mask, p.scale, 0.0f);

  ggml_tensor* vt = ggml_cont(ctx, ggml_permute(ctx, v, 1, 2, 0, 3));  // [n_kv, head_dim, n_head_kv]
  ggml_tensor* kqv = ggml_mul_mat(ctx, vt, kq);                        // [head_dim, n_tokens, n_head]
  return ggml_cont(ctx, ggml_permute(ctx, kqv, 0, 2, 1, 3));           // [head_dim, n_head, n_tokens]
}

}  // namespace rbees::ops
