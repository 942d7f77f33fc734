#include "ops/linear.hpp"

#include <ggml-cpu.h>

namespace rbees::ops {
namespace {

// Whether ggml could hand this product to tinyBLAS: a CPU build with llamafile and a weight that no
// extra buffer type (repacked layouts, AMX) claimed; those mark the tensor's `extra` and bring their
// own kernels.
bool tinyblas_may_take(const ggml_tensor* w) {
  return ggml_cpu_has_llamafile() != 0 && w->extra == nullptr && w->buffer != nullptr &&
         ggml_backend_buffer_is_host(w->buffer);
}

// x in the weight's dot-product type, each row followed by one spare block: ggml's product takes the
// rows where they are (no conversion, so its second tinyBLAS attempt is skipped) and, the view not
// being contiguous, its first attempt too. The rows quantize block by block, so the spare block
// changes nothing in them.
ggml_tensor* strided_in_dot_type(ggml_context* ctx, ggml_tensor* w, ggml_tensor* x) {
  const ggml_type dot_type = ggml_get_type_traits_cpu(w->type)->vec_dot_type;
  const int pad = static_cast<int>(ggml_blck_size(dot_type));
  ggml_tensor* padded = ggml_pad(ctx, x, pad, 0, 0, 0);
  if (dot_type != padded->type) padded = ggml_cast(ctx, padded, dot_type);
  return ggml_view_4d(ctx, padded, x->ne[0], x->ne[1], x->ne[2], x->ne[3], padded->nb[1], padded->nb[2], padded->nb[3],
                      0);
}

}  // namespace

ggml_tensor* linear(ggml_context* ctx, ggml_tensor* w, ggml_tensor* x, ggml_tensor* bias,
                    const LinearOptions& options) {
  if (options.same_kernel_any_batch && tinyblas_may_take(w)) x = strided_in_dot_type(ctx, w, x);
  ggml_tensor* y = ggml_mul_mat(ctx, w, x);
  if (bias != nullptr) y = ggml_add(ctx, y, bias);
  return y;
}

}  // namespace rbees::ops
