#pragma once
// RMSNorm: x / sqrt(mean(x^2) + eps) * weight, over the innermost dimension.

#include <ggml.h>

namespace rbees::ops {

ggml_tensor* rms_norm(ggml_context* ctx, ggml_tensor* x, ggml_tensor* weight, float eps);

}  // namespace rbees::ops
