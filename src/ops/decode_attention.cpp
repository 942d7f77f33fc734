#include "ops/decode_attention.hpp"

#include <ggml-cpu.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "core/fast_exp.hpp"

namespace rbees::ops {
namespace {

constexpr uint16_t kF16NegInf = 0xFC00;
constexpr int64_t kValueBlock = 32;  // cells whose value rows are converted together

// Sixteen independent partial sums folded in halves, in a fixed order: lane j sums the products
// of elements j, j + 16, ...; then lanes j and j + 8, j and j + 4, and the last four pairwise. With
// GCC or Clang the lanes are one vector register and the folds vector adds (a fold of an array
// compiles to a chain of scalar adds through the stack, which at head_dim 32 costs more than the
// products).
#if defined(__GNUC__)
using V16 = float __attribute__((vector_size(64)));
using V8 = float __attribute__((vector_size(32)));
using V4 = float __attribute__((vector_size(16)));

float dot(const float* a, const float* b, int64_t n) {
  V16 acc = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    V16 x;
    V16 y;
    std::memcpy(&x, a + i, sizeof x);
    std::memcpy(&y, b + i, sizeof y);
    acc += x * y;
  }
  for (int j = 0; i < n; ++i, ++j) acc[j] += a[i] * b[i];
  V8 lo;
  V8 hi;
  std::memcpy(&lo, &acc, sizeof lo);
  std::memcpy(&hi, reinterpret_cast<const char*>(&acc) + sizeof lo, sizeof hi);
  lo += hi;
  V4 l4;
  V4 h4;
  std::memcpy(&l4, &lo, sizeof l4);
  std::memcpy(&h4, reinterpret_cast<const char*>(&lo) + sizeof l4, sizeof h4);
  l4 += h4;
  return (l4[0] + l4[2]) + (l4[1] + l4[3]);
}

// o[0..16) += sum over b < nb of p[b] * v[b * stride + 0..16), the sum in b's order in a register.
void accumulate16(const float* p, const float* v, int64_t stride, int64_t nb, float* o) {
  V16 acc = {};
  for (int64_t b = 0; b < nb; ++b) {
    V16 x;
    std::memcpy(&x, v + b * stride, sizeof x);
    acc += p[b] * x;
  }
  V16 out;
  std::memcpy(&out, o, sizeof out);
  out += acc;
  std::memcpy(o, &out, sizeof out);
}
#endif

// o[0..w) += sum over b < nb of p[b] * v[b * stride + 0..w), w <= 16, in the same order as
// accumulate16: a head size's last part under 16, and accumulate16 itself without vector types.
void accumulate_part(const float* p, const float* v, int64_t stride, int64_t nb, int64_t w, float* o) {
  float acc[16] = {};
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t l = 0; l < w; ++l) acc[l] += p[b] * v[b * stride + l];
  }
  for (int64_t l = 0; l < w; ++l) o[l] += acc[l];
}

#if !defined(__GNUC__)
float dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (int j = 0; i < n; ++i, ++j) acc[j] += a[i] * b[i];
  for (int j = 0; j < 8; ++j) acc[j] += acc[j + 8];
  for (int j = 0; j < 4; ++j) acc[j] += acc[j + 4];
  for (int j = 0; j < 2; ++j) acc[j] += acc[j + 2];
  return acc[0] + acc[1];
}

void accumulate16(const float* p, const float* v, int64_t stride, int64_t nb, float* o) {
  accumulate_part(p, v, stride, nb, 16, o);
}
#endif

using core::exp_nonpositive;

// A row's softmax in place, each sum and maximum over sixteen lanes folded in halves (vectorised, in
// a fixed order).
void softmax(float* sc, int64_t n) {
  float lanes[16];
  std::fill(lanes, lanes + 16, -std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    for (int l = 0; l < 16; ++l) lanes[l] = sc[j + l] > lanes[l] ? sc[j + l] : lanes[l];
  }
  for (int l = 0; j < n; ++j, ++l) lanes[l] = sc[j] > lanes[l] ? sc[j] : lanes[l];
  float top = lanes[0];
  for (int l = 1; l < 16; ++l) top = lanes[l] > top ? lanes[l] : top;
  for (int64_t j = 0; j < n; ++j) sc[j] = exp_nonpositive(sc[j] - top);
  std::fill(lanes, lanes + 16, 0.0f);
  j = 0;
  for (; j + 16 <= n; j += 16) {
    for (int l = 0; l < 16; ++l) lanes[l] += sc[j + l];
  }
  for (int l = 0; j < n; ++j, ++l) lanes[l] += sc[j];
  for (int l = 0; l < 8; ++l) lanes[l] += lanes[l + 8];
  for (int l = 0; l < 4; ++l) lanes[l] += lanes[l + 4];
  for (int l = 0; l < 2; ++l) lanes[l] += lanes[l + 2];
  const float sum = lanes[0] + lanes[1];
  const float inv = sum > 0 ? 1.0f / sum : 0.0f;
  for (int64_t i = 0; i < n; ++i) sc[i] *= inv;
}

// A row of n values of `type` (F16 or F32) as floats: `src` itself when F32, else converted to `buf`.
const float* row_f32(const ggml_tensor* t, const char* src, float* buf, int64_t n) {
  if (t->type == GGML_TYPE_F32) return reinterpret_cast<const float*>(src);
  ggml_cpu_fp16_to_fp32(reinterpret_cast<const ggml_fp16_t*>(src), buf, n);
  return buf;
}

void compute(ggml_tensor* dst, int ith, int nth, void* /*userdata*/) {
  const ggml_tensor* q = dst->src[0];
  const ggml_tensor* k = dst->src[1];
  const ggml_tensor* v = dst->src[2];
  const ggml_tensor* mask = dst->src[3];
  const int64_t hd = q->ne[0];
  const int64_t n_head = q->ne[1];
  const int64_t n_head_kv = k->ne[1];
  const int64_t n_queries = q->ne[2];  // per stream
  const int64_t n_streams = q->ne[3];
  const int64_t window = k->ne[2];
  const int64_t group = n_head / n_head_kv;
  // A unit of work is one query's cells for a range of key/value heads: each cell's row of those heads
  // is read once, in cache order, for all their query heads. Queries are split by heads when there
  // are fewer than four of them a thread. The units go to the threads in runs of about equal cost
  // (open cells): a step's streams differ in length by up to the whole window, and units dealt
  // round-robin left one thread with most of the work.
  const int64_t rows = n_queries * n_streams;
  const int64_t head_parts = std::min<int64_t>(n_head_kv, std::max<int64_t>(1, (int64_t{4} * nth + rows - 1) / rows));
  const int64_t n_units = rows * head_parts;
  auto mask_row = [&](int64_t r) {
    return reinterpret_cast<const uint16_t*>(static_cast<const char*>(mask->data) + r % n_queries * mask->nb[1] +
                                             r / n_queries * mask->nb[3]);
  };
  thread_local std::vector<int64_t> cost;  // a unit of each row: its open cells, plus one
  cost.resize(static_cast<size_t>(rows));
  int64_t total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t* m = mask_row(r);
    int64_t open = 1;
    for (int64_t c = 0; c < window; ++c) open += m[c] != kF16NegInf ? 1 : 0;
    cost[static_cast<size_t>(r)] = open;
    total += open * head_parts;
  }

  thread_local std::vector<float> scores, kbuf, vbuf, out;
  thread_local std::vector<int32_t> cells;
  int64_t before = 0;  // cost of the units before u
  for (int64_t u = 0; u < n_units; ++u) {
    const int64_t unit_cost = cost[static_cast<size_t>(u / head_parts)];
    const int64_t owner = std::min<int64_t>(nth - 1, (before + unit_cost / 2) * nth / total);
    before += unit_cost;
    if (owner != ith) continue;
    const int64_t s = u / (head_parts * n_queries);
    const int64_t t = u / head_parts % n_queries;
    const int64_t part = u % head_parts;
    const int64_t hk0 = part * n_head_kv / head_parts;
    const int64_t hk1 = (part + 1) * n_head_kv / head_parts;
    const int64_t nq = (hk1 - hk0) * group;  // query heads of this unit, from query head hk0 * group
    const int64_t row = (hk1 - hk0) * hd;    // elements of a cell's key (or value) row for them
    const uint16_t* m = mask_row(s * n_queries + t);
    const char* kbase = static_cast<const char*>(k->data) + hk0 * k->nb[1] + s * k->nb[3];
    const char* vbase = static_cast<const char*>(v->data) + hk0 * v->nb[1] + s * v->nb[3];
    const auto* qs = static_cast<const char*>(q->data) + hk0 * group * q->nb[1] + t * q->nb[2] + s * q->nb[3];

    cells.clear();
    for (int64_t c = 0; c < window; ++c) {
      if (m[c] != kF16NegInf) cells.push_back(static_cast<int32_t>(c));
    }
    const auto n = static_cast<int64_t>(cells.size());
    scores.resize(static_cast<size_t>(nq * n));
    kbuf.resize(static_cast<size_t>(row));
    out.assign(static_cast<size_t>(nq * hd), 0.0f);

    for (int64_t j = 0; j < n; ++j) {
      const float* kr = row_f32(k, kbase + cells[j] * k->nb[2], kbuf.data(), row);
      const float bias = ggml_fp16_to_fp32(m[cells[j]]);
      for (int64_t h = 0; h < nq; ++h) {
        const auto* qr = reinterpret_cast<const float*>(qs + h * q->nb[1]);
        scores[h * n + j] = dot(qr, kr + (h / group) * hd, hd) + bias;
      }
    }
    for (int64_t h = 0; h < nq; ++h) softmax(scores.data() + h * n, n);
    // The values a block of cells at a time (their rows converted into a buffer that stays in the
    // first-level cache), each head's output sixteen elements at a time summed over the block in
    // registers, then added to the head's output: in a fixed order, the cells' order.
    vbuf.resize(static_cast<size_t>(kValueBlock * row));
    for (int64_t j0 = 0; j0 < n; j0 += kValueBlock) {
      const int64_t nb = std::min<int64_t>(kValueBlock, n - j0);
      for (int64_t b = 0; b < nb; ++b) {
        float* to = vbuf.data() + b * row;
        const float* vr = row_f32(v, vbase + cells[j0 + b] * v->nb[2], to, row);
        if (vr != to) std::copy(vr, vr + row, to);
      }
      for (int64_t h = 0; h < nq; ++h) {
        const float* p = scores.data() + h * n + j0;
        const float* vh = vbuf.data() + (h / group) * hd;
        float* o = out.data() + h * hd;
        for (int64_t i0 = 0; i0 < hd; i0 += 16) {
          const int64_t w = std::min<int64_t>(16, hd - i0);
          if (w == 16) {
            accumulate16(p, vh + i0, row, nb, o + i0);
          } else {
            accumulate_part(p, vh + i0, row, nb, w, o + i0);
          }
        }
      }
    }
    for (int64_t h = 0; h < nq; ++h) {
      auto* d = reinterpret_cast<float*>(static_cast<char*>(dst->data) + (hk0 * group + h) * dst->nb[1] +
                                         t * dst->nb[2] + s * dst->nb[3]);
      std::copy(out.begin() + h * hd, out.begin() + (h + 1) * hd, d);
    }
  }
}

}  // namespace

ggml_tensor* decode_attention_cpu(ggml_context* ctx, ggml_tensor* q, ggml_tensor* k, ggml_tensor* v,
                                  ggml_tensor* mask) {
  const bool kv_ok = (k->type == GGML_TYPE_F16 || k->type == GGML_TYPE_F32) && v->type == k->type;
  if (q->type != GGML_TYPE_F32 || !ggml_is_contiguous(q) || !kv_ok || mask->type != GGML_TYPE_F16 ||
      mask->ne[1] != q->ne[2] || mask->nb[0] != sizeof(uint16_t) || k->ne[0] != q->ne[0] || v->ne[0] != q->ne[0] ||
      k->ne[3] != q->ne[3] || v->ne[2] != k->ne[2] || mask->ne[0] != k->ne[2] || mask->ne[3] != q->ne[3] ||
      q->ne[1] % k->ne[1] != 0 || k->nb[0] != ggml_type_size(k->type) || v->nb[0] != ggml_type_size(v->type) ||
      k->nb[1] != k->nb[0] * k->ne[0] || v->nb[1] != v->nb[0] * v->ne[0]) {
    throw std::invalid_argument("decode_attention_cpu: unsupported shapes or types");
  }
  ggml_tensor* args[4] = {q, k, v, mask};
  return ggml_custom_4d(ctx, GGML_TYPE_F32, q->ne[0], q->ne[1], q->ne[2], q->ne[3], args, 4, compute, GGML_N_TASKS_MAX,
                        nullptr);
}

}  // namespace rbees::ops
