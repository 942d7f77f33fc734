#pragma once
// Attention of a few queries per stream over that stream's cells, on the CPU: the decode step of
// sequences batched as streams (one home region each), and short prompt pieces. ggml's CPU flash kernel handles this
// case one cell at a time, with its dot products vectorised only in whole blocks of 64 (AVX-512) elements, so a head of
// 48 or 80 runs in scalar code with an F16 conversion per element. Here each stream and head scores its unmasked cells,
// converting a key row at a time with ggml's vectorised conversion, then sums the values weighted by the softmax, in
// F32 throughout.

#include <ggml.h>

namespace rbees::ops {

// Queries per stream from which ggml's CPU flash kernel works in tiles (GGML_FA_TILE_Q), which beat
// this op on long prompt chunks.
inline constexpr int kCpuTiledAttentionQueries = 64;

// q: F32 [head_dim, n_head, n_queries, n_streams], contiguous, already multiplied by the attention scale;
// k, v: [head_dim, n_head_kv, window, n_streams] (F16 or F32; a cell's heads contiguous, as in views
// of a cache); mask: F16 [window, n_queries, 1, n_streams] (0 where the query may look, -INF
// elsewhere). n_head must be a multiple of n_head_kv. Returns F32 [head_dim, n_head, n_queries,
// n_streams]. Each query's result depends on its own row and cells only: not on the other queries or
// streams, nor on where in the window its cells lie.
// A CPU op (ggml_custom_4d): only for graphs whose every node runs on the CPU backend.
ggml_tensor* decode_attention_cpu(ggml_context* ctx, ggml_tensor* q, ggml_tensor* k, ggml_tensor* v, ggml_tensor* mask);

}  // namespace rbees::ops
