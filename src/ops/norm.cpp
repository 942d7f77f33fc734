#include "ops/norm.hpp"

namespace rbees::ops {

ggml_tensor* rms_norm(ggml_context* ctx, ggml_tensor* x, ggml_tensor* weight, float eps) {
  ggml_tensor* y = ggml_rms_norm(ctx, x, eps);
  return weight != nullptr ? ggml_mul(ctx, y, weight) : y;
}

}  // namespace rbees::ops
