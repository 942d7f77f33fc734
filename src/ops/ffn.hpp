#pragma once
// The SwiGLU feed-forward block of Llama: down(silu(gate(x)) * up(x)), biases optional.

#include <ggml.h>

#include "ops/linear.hpp"

namespace rbees::ops {

struct SwigluWeights {
  ggml_tensor* gate = nullptr;
  ggml_tensor* up = nullptr;
  ggml_tensor* down = nullptr;
  ggml_tensor* gate_bias = nullptr;
  ggml_tensor* up_bias = nullptr;
  ggml_tensor* down_bias = nullptr;
  // Gate and up stacked by rows (gate first) with their biases: one product, then SwiGLU over its
  // halves. When set, gate and up (and their biases) are not read.
  ggml_tensor* gate_up = nullptr;
  ggml_tensor* gate_up_bias = nullptr;
};

// x: F32 [n_embd, n_tokens] -> F32 [n_embd, n_tokens].
ggml_tensor* swiglu_ffn(ggml_context* ctx, ggml_tensor* x, const SwigluWeights& w, const LinearOptions& options = {});

}  // namespace rbees::ops
