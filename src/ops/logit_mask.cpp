#include "ops/logit_mask.hpp"

#include <bit>

namespace rbees::ops {

namespace {
constexpr ggml_fp16_t kOpen = 0x0000;    // +0
constexpr ggml_fp16_t kClosed = 0xFC00;  // -inf
}  // namespace

const std::array<ggml_fp16_t, kLogitMaskTableValues>& logit_mask_table() {
  static const auto table = [] {
    std::array<ggml_fp16_t, kLogitMaskTableValues> t{};
    for (size_t b = 0; b < 256; ++b) {
      for (size_t i = 0; i < 8; ++i) t[b * 8 + i] = ((b >> i) & 1) != 0 ? kOpen : kClosed;
    }
    return t;
  }();
  return table;
}

void logit_mask_bytes(const uint64_t* masks, size_t words_per_row, int64_t n_vocab, size_t n_rows, int32_t* out) {
  static_assert(std::endian::native == std::endian::little, "byte b of a bitset holds tokens 8b .. 8b+7");
  const size_t n_bytes = (static_cast<size_t>(n_vocab) + 7) / 8;
  for (size_t r = 0; r < n_rows; ++r) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(masks + r * words_per_row);
    for (size_t b = 0; b < n_bytes; ++b) out[r * n_bytes + b] = bytes[b];
  }
}

ggml_tensor* expand_logit_mask(ggml_context* ctx, ggml_tensor* bytes, ggml_tensor* table, int64_t n_vocab,
                               int64_t n_rows) {
  const int64_t n_bytes = (n_vocab + 7) / 8;
  ggml_tensor* mask = ggml_get_rows(ctx, table, bytes);  // F32 [8, n_bytes * n_rows]
  mask = ggml_reshape_2d(ctx, mask, 8 * n_bytes, n_rows);
  // A vocabulary that ends inside a byte: the rest of that byte's values are dropped.
  if (8 * n_bytes != n_vocab) mask = ggml_cont(ctx, ggml_view_2d(ctx, mask, n_vocab, n_rows, mask->nb[1], 0));
  return mask;
}

}  // namespace rbees::ops
