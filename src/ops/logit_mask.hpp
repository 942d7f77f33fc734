#pragma once
// Logit masks from bitsets of allowed tokens, expanded on the device: the host sends a byte per 8
// tokens (as get_rows indices) and a 256-row table of each byte's 8 mask values, instead of a value
// per token.

#include <ggml.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace rbees::ops {

inline constexpr std::size_t kLogitMaskTableValues = std::size_t{256} * 8;

// F16 [8, 256]: row b holds +0 where bit i of b is set (the token may be picked), -inf where not.
const std::array<ggml_fp16_t, kLogitMaskTableValues>& logit_mask_table();

// Writes the bytes of n_rows bitsets (words_per_row words each; bit t % 64 of word t / 64 is token t)
// as ceil(n_vocab / 8) indices per row into `out`.
void logit_mask_bytes(const uint64_t* masks, size_t words_per_row, int64_t n_vocab, size_t n_rows, int32_t* out);

// F32 [n_vocab, n_rows]: each row's mask values. `bytes`: I32 [ceil(n_vocab / 8) * n_rows];
// `table`: F16 [8, 256] holding logit_mask_table().
ggml_tensor* expand_logit_mask(ggml_context* ctx, ggml_tensor* bytes, ggml_tensor* table, int64_t n_vocab,
                               int64_t n_rows);

}  // namespace rbees::ops
