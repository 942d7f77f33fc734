#include "model/weight_buffer_type.hpp"

#include <memory>
#include <string_view>

namespace rbees::model {

ggml_backend_buffer_type_t faster_matmul_buffer_type(ggml_backend_dev_t dev, ggml_type type, int64_t ne0, int64_t ne1) {
  if (dev == nullptr || ggml_backend_dev_type(dev) != GGML_BACKEND_DEVICE_TYPE_CPU || !ggml_is_quantized(type)) {
    return nullptr;
  }
  auto get_extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
      ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(dev), "ggml_backend_dev_get_extra_bufts"));
  if (get_extra == nullptr) return nullptr;

  // Ask each extra type whether it runs this product, as a prompt batch would use it: the question
  // is asked of a weight that claims to live in a buffer of that type.
  ggml_init_params params{ggml_tensor_overhead() * 4, nullptr, true};
  std::unique_ptr<ggml_context, decltype(&ggml_free)> ctx(ggml_init(params), ggml_free);
  ggml_tensor* w = ggml_new_tensor_2d(ctx.get(), type, ne0, ne1);
  ggml_tensor* x = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, ne0, 512);
  ggml_tensor* op = ggml_mul_mat(ctx.get(), w, x);
  for (ggml_backend_buffer_type_t* b = get_extra(dev); b != nullptr && *b != nullptr; ++b) {
    // ggml's AMX product (Sapphire Rapids and later) faults on this snapshot's Q8_0 weights in the
    // model's graphs (ggml_backend_amx_mul_mat, SIGSEGV), where the repacked and plain layouts do not.
    if (std::string_view(ggml_backend_buft_name(*b)) == "AMX") continue;
    ggml_backend_buffer_t probe = ggml_backend_buft_alloc_buffer(*b, 0);
    if (probe == nullptr) continue;
    w->buffer = probe;
    const bool ok = ggml_backend_dev_supports_op(dev, op);
    w->buffer = nullptr;
    ggml_backend_buffer_free(probe);
    if (ok) return *b;
  }
  return nullptr;
}

}  // namespace rbees::model
