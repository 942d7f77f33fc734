#include "ops/ffn.hpp"

#include "ops/linear.hpp"

namespace rbees::ops {

ggml_tensor* swiglu_ffn(ggml_context* ctx, ggml_tensor* x, const SwigluWeights& w, const LinearOptions& options) {
  if (w.gate_up != nullptr) {
    ggml_tensor* act =
        ggml_swiglu(ctx, linear(ctx, w.gate_up, x, w.gate_up_bias, options));  // silu(first half) * second
    return linear(ctx, w.down, act, w.down_bias, options);
  }
  ggml_tensor* gate = linear(ctx, w.gate, x, w.gate_bias, options);
  ggml_tensor* up = linear(ctx, w.up, x, w.up_bias, options);
  ggml_tensor* act = ggml_swiglu_split(ctx, gate, up);  // silu(gate) * up, fused
  return linear(ctx, w.down, act, w.down_bias, options);
}

}  // namespace rbees::ops
