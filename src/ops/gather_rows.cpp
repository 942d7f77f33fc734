#include "ops/gather_rows.hpp"

namespace rbees::ops {
namespace {

// A view of the same bytes as elements of `type`, `ne0` of them per row (ggml has no reinterpreting
// view, so the view's type and first extent are set in place; its row strides stay in bytes).
ggml_tensor* reinterpret_rows(ggml_context* ctx, ggml_tensor* t, ggml_type type, int64_t ne0) {
  ggml_tensor* v = ggml_view_2d(ctx, t, t->ne[0], t->ne[1], t->nb[1], 0);
  v->type = type;
  v->ne[0] = ne0;
  v->nb[0] = ggml_type_size(type);
  return v;
}

}  // namespace

ggml_tensor* gather_rows(ggml_context* ctx, ggml_tensor* a, ggml_tensor* idx) {
  if (a->type != GGML_TYPE_F16 || a->ne[0] % 2 != 0 || a->nb[0] != ggml_type_size(GGML_TYPE_F16) ||
      ggml_n_dims(a) > 2) {
    return ggml_get_rows(ctx, a, idx);
  }
  ggml_tensor* rows = ggml_get_rows(ctx, reinterpret_rows(ctx, a, GGML_TYPE_I32, a->ne[0] / 2), idx);
  return reinterpret_rows(ctx, rows, GGML_TYPE_F16, a->ne[0]);
}

}  // namespace rbees::ops
