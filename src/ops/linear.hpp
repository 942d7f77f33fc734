#pragma once
// y = W x (+ b). W is stored as ggml lays out a Hugging Face [out, in] matrix (ne = {in, out}) in
// any type ggml_mul_mat accepts; x is F32 [in, n_tokens]; the result is F32 [out, n_tokens].

#include <ggml.h>

namespace rbees::ops {

inline ggml_tensor* linear(ggml_context* ctx, ggml_tensor* w, ggml_tensor* x, ggml_tensor* bias = nullptr) {
  ggml_tensor* y = ggml_mul_mat(ctx, w, x);
  if (bias != nullptr) y = ggml_add(ctx, y, bias);
  return y;
}

}  // namespace rbees::ops
