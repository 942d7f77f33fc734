#include "ops/decode_attention.hpp"

#include <ggml-cpu.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace rbees::ops {
namespace {

constexpr uint16_t kF16NegInf = 0xFC00;

// Sixteen independent partial sums, so the compiler vectorises the loop without reordering any sum.
float dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (float x : acc) s += x;
  return s;
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
  // is read once, in cache order, for all their query heads. Queries are split by heads only when
  // there are fewer of them than threads.
  const int64_t rows = n_queries * n_streams;
  const int64_t head_parts = std::min<int64_t>(n_head_kv, std::max<int64_t>(1, (nth + rows - 1) / rows));

  thread_local std::vector<float> scores, kbuf, vbuf, out;
  thread_local std::vector<int32_t> cells;
  for (int64_t u = ith; u < rows * head_parts; u += nth) {
    const int64_t s = u / (head_parts * n_queries);
    const int64_t t = u / head_parts % n_queries;
    const int64_t part = u % head_parts;
    const int64_t hk0 = part * n_head_kv / head_parts;
    const int64_t hk1 = (part + 1) * n_head_kv / head_parts;
    const int64_t nq = (hk1 - hk0) * group;  // query heads of this unit, from query head hk0 * group
    const int64_t row = (hk1 - hk0) * hd;    // elements of a cell's key (or value) row for them
    const auto* m =
        reinterpret_cast<const uint16_t*>(static_cast<const char*>(mask->data) + t * mask->nb[1] + s * mask->nb[3]);
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
    vbuf.resize(static_cast<size_t>(row));
    out.assign(static_cast<size_t>(nq * hd), 0.0f);

    for (int64_t j = 0; j < n; ++j) {
      const float* kr = row_f32(k, kbase + cells[j] * k->nb[2], kbuf.data(), row);
      const float bias = ggml_fp16_to_fp32(m[cells[j]]);
      for (int64_t h = 0; h < nq; ++h) {
        const auto* qr = reinterpret_cast<const float*>(qs + h * q->nb[1]);
        scores[h * n + j] = dot(qr, kr + (h / group) * hd, hd) + bias;
      }
    }
    for (int64_t h = 0; h < nq; ++h) {
      float* sc = scores.data() + h * n;
      float top = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j) top = std::max(top, sc[j]);
      float sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        sc[j] = std::exp(sc[j] - top);
        sum += sc[j];
      }
      const float inv = sum > 0 ? 1.0f / sum : 0.0f;
      for (int64_t j = 0; j < n; ++j) sc[j] *= inv;
    }
    for (int64_t j = 0; j < n; ++j) {
      const float* vr = row_f32(v, vbase + cells[j] * v->nb[2], vbuf.data(), row);
      for (int64_t h = 0; h < nq; ++h) {
        const float p = scores[h * n + j];
        const float* vh = vr + (h / group) * hd;
        float* o = out.data() + h * hd;
        for (int64_t i = 0; i < hd; ++i) o[i] += p * vh[i];
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
