#pragma once
// Rows of a tensor picked by index, in the tensor's own type.

#include <ggml.h>

namespace rbees::ops {

// Rows idx (I32 [n]) of the 2-D tensor `a`: [a->ne[0], n], of a's type. ggml_get_rows gives F32 for
// F16 rows, which doubles the bytes a gather of KV cells writes and needs a conversion back before
// the flash kernels read them; F16 rows are therefore copied as pairs of halves through I32 rows,
// which ggml's get_rows copies as they are, bit for bit. Other types go through ggml_get_rows.
ggml_tensor* gather_rows(ggml_context* ctx, ggml_tensor* a, ggml_tensor* idx);

}  // namespace rbees::ops
