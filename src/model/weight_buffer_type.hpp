#pragma once
// Where a weight matrix lives on the CPU. ggml's CPU backend offers extra buffer types (repacked
// layouts for quantized matrices, AMX where the CPU has it) whose products run several times faster
// than on plainly stored blocks; they hold weights only for the ops they support.

#include <ggml-backend.h>
#include <ggml.h>

namespace rbees::model {

// An extra CPU buffer type that stores a quantized [ne0, ne1] matrix of `type`, used as the first
// operand of ggml_mul_mat, in a faster layout; null on other devices, for other types, or when none
// applies. `dev` is where the matrix lives: the model's device, or the CPU for the layers
// --gpu-layers leaves there.
ggml_backend_buffer_type_t faster_matmul_buffer_type(ggml_backend_dev_t dev, ggml_type type, int64_t ne0, int64_t ne1);

}  // namespace rbees::model
