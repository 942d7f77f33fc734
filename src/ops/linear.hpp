#pragma once
// y = W x (+ b). W is stored as ggml lays out a Hugging Face [out, in] matrix (ne = {in, out}) in
// any type ggml_mul_mat accepts; x is F32 [in, n_tokens]; the result is F32 [out, n_tokens].

#include <ggml.h>

namespace rbees::ops {

struct LinearOptions {
  // One kernel for every batch size. ggml's CPU backend built with llamafile's tinyBLAS multiplies
  // two or more columns with tinyBLAS and a single column with ggml's dot products, which sum in
  // another order: a token's result would then depend on how many tokens share its graph. When set,
  // a product whose weight is in a plain CPU buffer (not a repacked one, which has a kernel of its
  // own) gets its activations already in the weight's dot-product type and as a strided view, which
  // tinyBLAS does not take, so every column goes through ggml's dot products. Costs tinyBLAS's
  // speed on prompts; changes nothing on other backends or builds.
  bool same_kernel_any_batch = false;
};

ggml_tensor* linear(ggml_context* ctx, ggml_tensor* w, ggml_tensor* x, ggml_tensor* bias = nullptr,
                    const LinearOptions& options = {});

}  // namespace rbees::ops
