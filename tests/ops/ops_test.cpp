// The layer builders against values computed by hand from their definitions.
#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "core/device.hpp"
#include "ops/attention.hpp"
#include "ops/decode_attention.hpp"
#include "ops/ffn.hpp"
#include "ops/gather_rows.hpp"
#include "ops/logit_mask.hpp"
#include "ops/norm.hpp"
#include "ops/rope.hpp"

namespace rbees::ops {
namespace {

// Builds a one-output graph in its own context, uploads the inputs, computes on the CPU.
class GraphRunner {
 public:
  explicit GraphRunner(int threads = 1) : cpu_(core::find_device("cpu"), threads) {
    ctx_ = ggml_init({ggml_tensor_overhead() * 64 + ggml_graph_overhead(), nullptr, true});
  }
  ~GraphRunner() {
    if (buf_ != nullptr) ggml_backend_buffer_free(buf_);
    ggml_free(ctx_);
  }
  ggml_context* ctx() { return ctx_; }
  ggml_tensor* input(ggml_type type, std::vector<int64_t> ne) {
    ggml_tensor* t = ggml_new_tensor(ctx_, type, static_cast<int>(ne.size()), ne.data());
    inputs_.push_back(t);
    return t;
  }
  // Values for the inputs in creation order, as raw bytes of their type.
  std::vector<float> run(ggml_tensor* out, const std::vector<const void*>& values) {
    ggml_cgraph* gf = ggml_new_graph(ctx_);
    ggml_build_forward_expand(gf, out);
    buf_ = ggml_backend_alloc_ctx_tensors(ctx_, cpu_.backend());
    for (size_t i = 0; i < inputs_.size(); ++i)
      ggml_backend_tensor_set(inputs_[i], values[i], 0, ggml_nbytes(inputs_[i]));
    EXPECT_EQ(ggml_backend_graph_compute(cpu_.backend(), gf), GGML_STATUS_SUCCESS);
    std::vector<float> result(ggml_nelements(out));
    ggml_backend_tensor_get(out, result.data(), 0, ggml_nbytes(out));
    return result;
  }

 private:
  core::Device cpu_;
  ggml_context* ctx_;
  ggml_backend_buffer_t buf_ = nullptr;
  std::vector<ggml_tensor*> inputs_;
};

// Bitsets of allowed tokens expanded to mask values, for vocabularies that end inside a byte and
// at a byte's end: 0 exactly where the bit is set, -inf elsewhere.
TEST(Ops, LogitMaskExpandsEachRowsBitset) {
  for (const int64_t n_vocab : {13, 16, 70}) {
    constexpr size_t kRows = 3;
    const size_t words = static_cast<size_t>(n_vocab + 63) / 64;
    std::vector<uint64_t> bits(kRows * words);
    for (size_t i = 0; i < bits.size(); ++i) bits[i] = 0x9E3779B97F4A7C15ull * (i + 1) ^ (i << 7);
    const size_t n_bytes = static_cast<size_t>(n_vocab + 7) / 8;
    std::vector<int32_t> bytes(n_bytes * kRows);
    logit_mask_bytes(bits.data(), words, n_vocab, kRows, bytes.data());

    GraphRunner g;
    ggml_tensor* bt = g.input(GGML_TYPE_I32, {static_cast<int64_t>(bytes.size())});
    ggml_tensor* tt = g.input(GGML_TYPE_F16, {8, 256});
    const auto out =
        g.run(expand_logit_mask(g.ctx(), bt, tt, n_vocab, kRows), {bytes.data(), logit_mask_table().data()});
    ASSERT_EQ(out.size(), static_cast<size_t>(n_vocab) * kRows);
    for (size_t r = 0; r < kRows; ++r) {
      for (int64_t t = 0; t < n_vocab; ++t) {
        const bool open = ((bits[r * words + static_cast<size_t>(t) / 64] >> (t % 64)) & 1) != 0;
        const float v = out[r * static_cast<size_t>(n_vocab) + static_cast<size_t>(t)];
        if (open) {
          EXPECT_EQ(v, 0.0f) << "vocab " << n_vocab << " row " << r << " token " << t;
        } else {
          EXPECT_TRUE(std::isinf(v) && v < 0) << "vocab " << n_vocab << " row " << r << " token " << t << ": " << v;
        }
      }
    }
  }
}

// F16 rows gathered stay F16 and keep every bit: infinities, NaNs, subnormals, signed zeros.
TEST(Ops, GatherRowsCopiesF16RowsBitForBit) {
  constexpr int64_t kWidth = 6, kRows = 5;
  std::vector<uint16_t> src(kWidth * kRows);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint16_t>(0x3C00 + 97 * i);
  src[1] = 0x7C00;  // +inf
  src[2] = 0xFC00;  // -inf
  src[3] = 0x7E01;  // a NaN
  src[4] = 0x0001;  // the least subnormal
  src[5] = 0x8000;  // -0
  const std::vector<int32_t> idx = {4, 0, 0, 2};
  GraphRunner g;
  ggml_tensor* a = g.input(GGML_TYPE_F16, {kWidth, kRows});
  ggml_tensor* it = g.input(GGML_TYPE_I32, {static_cast<int64_t>(idx.size())});
  ggml_tensor* rows = gather_rows(g.ctx(), a, it);
  ASSERT_EQ(rows->type, GGML_TYPE_F16);
  ASSERT_EQ(rows->ne[0], kWidth);
  ASSERT_EQ(rows->ne[1], static_cast<int64_t>(idx.size()));
  ASSERT_TRUE(ggml_is_contiguous(rows));
  const std::vector<float> raw = g.run(rows, {src.data(), idx.data()});
  std::vector<uint16_t> got(kWidth * idx.size());
  std::memcpy(got.data(), raw.data(), got.size() * sizeof(uint16_t));
  for (size_t r = 0; r < idx.size(); ++r) {
    for (int64_t c = 0; c < kWidth; ++c) {
      EXPECT_EQ(got[r * kWidth + c], src[static_cast<size_t>(idx[r]) * kWidth + c]) << "row " << r << " col " << c;
    }
  }
  // F32 rows go through ggml_get_rows as they are.
  GraphRunner g32;
  ggml_tensor* a32 = g32.input(GGML_TYPE_F32, {3, 2});
  ggml_tensor* i32 = g32.input(GGML_TYPE_I32, {1});
  const std::vector<float> v = {1, 2, 3, 4, 5, 6};
  const int32_t one = 1;
  EXPECT_EQ(g32.run(gather_rows(g32.ctx(), a32, i32), {v.data(), &one}), (std::vector<float>{4, 5, 6}));
}

// Rotates one head of 8 dims at two positions with freq factors, in both pairings.
void check_rope(RopeLayout layout) {
  constexpr int hd = 8;
  const std::vector<int32_t> pos = {3, 17};
  const std::vector<float> ff = {1.0f, 1.5f, 4.0f, 8.0f};
  std::vector<float> x(hd * 2);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7 * i + 0.1);

  GraphRunner g;
  ggml_tensor* xt = g.input(GGML_TYPE_F32, {hd, 1, 2});
  ggml_tensor* pt = g.input(GGML_TYPE_I32, {2});
  ggml_tensor* ft = g.input(GGML_TYPE_F32, {hd / 2});
  RopeParams p;
  p.n_dims = hd;
  p.layout = layout;
  p.freq_base = 10000.0f;
  auto out = g.run(rope(g.ctx(), xt, pt, ft, p), {x.data(), pos.data(), ff.data()});

  for (int t = 0; t < 2; ++t) {
    const float* in = x.data() + t * hd;
    for (int i = 0; i < hd / 2; ++i) {
      const double theta = pos[t] * std::pow(10000.0, -2.0 * i / hd) / ff[i];
      // NeoX pairs dimension i with i + hd/2; the interleaved layout pairs 2i with 2i+1.
      const int a = layout == RopeLayout::neox ? i : 2 * i;
      const int b = layout == RopeLayout::neox ? i + hd / 2 : 2 * i + 1;
      const double ea = in[a] * std::cos(theta) - in[b] * std::sin(theta);
      const double eb = in[b] * std::cos(theta) + in[a] * std::sin(theta);
      EXPECT_NEAR(out[t * hd + a], ea, 1e-5) << "token " << t << " pair " << i;
      EXPECT_NEAR(out[t * hd + b], eb, 1e-5) << "token " << t << " pair " << i;
    }
  }
}

TEST(Rope, NeoxPairsHalvesWithFreqFactors) {
  check_rope(RopeLayout::neox);
}
TEST(Rope, InterleavedPairsNeighboursWithFreqFactors) {
  check_rope(RopeLayout::interleaved);
}

TEST(RmsNorm, ScalesByWeight) {
  GraphRunner g;
  ggml_tensor* x = g.input(GGML_TYPE_F32, {4, 2});
  ggml_tensor* w = g.input(GGML_TYPE_F32, {4});
  const std::vector<float> xv = {1, 2, 3, 4, -2, 0, 2, 0};
  const std::vector<float> wv = {0.5f, 1.0f, 2.0f, -1.0f};
  auto out = g.run(rms_norm(g.ctx(), x, w, 1e-5f), {xv.data(), wv.data()});
  const double r0 = 1.0 / std::sqrt(7.5 + 1e-5);  // mean square of row 0
  const double r1 = 1.0 / std::sqrt(2.0 + 1e-5);  // of row 1
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(out[i], xv[i] * r0 * wv[i], 1e-6);
    EXPECT_NEAR(out[4 + i], xv[4 + i] * r1 * wv[i], 1e-6);
  }
}

TEST(SwigluFfn, IsDownOfSiluGateTimesUp) {
  // n_embd 2, n_ff 3; weights in ggml order (ne = {in, out}), i.e. row-major [out][in].
  GraphRunner g;
  ggml_tensor* x = g.input(GGML_TYPE_F32, {2, 1});
  ggml_tensor* wg = g.input(GGML_TYPE_F32, {2, 3});
  ggml_tensor* wu = g.input(GGML_TYPE_F32, {2, 3});
  ggml_tensor* wd = g.input(GGML_TYPE_F32, {3, 2});
  const std::vector<float> xv = {0.5f, -1.0f};
  const std::vector<float> gv = {1, 2, -1, 0.5f, 0.25f, 3};
  const std::vector<float> uv = {2, 1, 0, -1, 1, 1};
  const std::vector<float> dv = {1, -1, 0.5f, 2, 0, 1};
  SwigluWeights w{wg, wu, wd};
  auto out = g.run(swiglu_ffn(g.ctx(), x, w), {xv.data(), gv.data(), uv.data(), dv.data()});
  double act[3];
  for (int j = 0; j < 3; ++j) {
    const double gate = gv[2 * j] * xv[0] + gv[2 * j + 1] * xv[1];
    const double up = uv[2 * j] * xv[0] + uv[2 * j + 1] * xv[1];
    act[j] = gate / (1.0 + std::exp(-gate)) * up;
  }
  for (int o = 0; o < 2; ++o) {
    const double e = dv[3 * o] * act[0] + dv[3 * o + 1] * act[1] + dv[3 * o + 2] * act[2];
    EXPECT_NEAR(out[o], e, 1e-6);
  }
}

// Two query heads sharing one key/value head over three cells; the mask hides cell 1 from token 0.
void check_attention(bool flash, double tol) {
  constexpr int hd = 4, n_head = 2, n_kv = 3, n_tok = 2;
  std::vector<float> q(hd * n_head * n_tok), k(hd * n_kv), v(hd * n_kv);
  for (size_t i = 0; i < q.size(); ++i) q[i] = std::cos(0.3 * i);
  for (size_t i = 0; i < k.size(); ++i) k[i] = std::sin(0.5 * i + 1);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1f * i - 0.4f;
  const float inf = INFINITY;
  const std::vector<float> mask = {0, -inf, 0, /* token 1 */ 0, 0, 0};

  GraphRunner g;
  ggml_tensor* qt = g.input(GGML_TYPE_F32, {hd, n_head, n_tok});
  ggml_tensor* kt = g.input(GGML_TYPE_F32, {hd, 1, n_kv});
  ggml_tensor* vt = g.input(GGML_TYPE_F32, {hd, 1, n_kv});
  ggml_tensor* mt = g.input(GGML_TYPE_F32, {n_kv, n_tok});
  const float scale = 0.5f;
  auto out = g.run(attention(g.ctx(), qt, kt, vt, mt, {scale, flash}), {q.data(), k.data(), v.data(), mask.data()});
  ASSERT_EQ(out.size(), q.size());

  for (int t = 0; t < n_tok; ++t) {
    for (int h = 0; h < n_head; ++h) {
      const float* qv = q.data() + (t * n_head + h) * hd;
      double w[n_kv], sum = 0;
      for (int c = 0; c < n_kv; ++c) {
        double dot = 0;
        for (int d = 0; d < hd; ++d) dot += qv[d] * k[c * hd + d];
        w[c] = mask[t * n_kv + c] == 0 ? std::exp(scale * dot) : 0.0;
        sum += w[c];
      }
      for (int d = 0; d < hd; ++d) {
        double e = 0;
        for (int c = 0; c < n_kv; ++c) e += w[c] / sum * v[c * hd + d];
        EXPECT_NEAR(out[(t * n_head + h) * hd + d], e, tol) << "token " << t << " head " << h << " dim " << d;
      }
    }
  }
}

TEST(Attention, SoftmaxPathMatchesDefinition) {
  check_attention(false, 1e-6);
}
TEST(Attention, FlashPathMatchesDefinition) {
  check_attention(true, 2e-3);
}

// A few queries per stream over the stream's own cells (the CPU op for decode steps and short prompt
// pieces), against the definition: a head size that is no multiple of 16, grouped heads, holes in the
// masks, two queries per stream with their own masks, and a placeholder stream whose queries see one
// cell; keys and values in F16 and in F32.
// `sharp` scales the queries: at 40 a row's scores span more than the 87 below its greatest where e^x
// underflows. `threads` computes the op on that many threads.
void check_decode_attention(ggml_type kv_type, int hd = 48, int window = 37, int threads = 1, float sharp = 1.0f) {
  constexpr int n_head = 4, n_head_kv = 2, nq = 2, n_streams = 3;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  std::vector<float> q(hd * n_head * nq * n_streams), k(hd * n_head_kv * window * n_streams), v(k.size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = std::cos(0.37 * i) * scale * sharp;
  for (size_t i = 0; i < k.size(); ++i) k[i] = ggml_fp16_to_fp32(ggml_fp32_to_fp16(std::sin(0.11 * i + 1)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = ggml_fp16_to_fp32(ggml_fp32_to_fp16(std::cos(0.07 * i) - 0.2f));
  // Row (s, t) of the mask: stream 0 has holes, stream 1 sees everything (query 1: the first ten
  // cells), stream 2 sees cell 0 only.
  std::vector<ggml_fp16_t> mask(window * nq * n_streams, ggml_fp32_to_fp16(-INFINITY));
  auto open = [&](int s, int t, int c) { mask[(s * nq + t) * window + c] = ggml_fp32_to_fp16(0.0f); };
  for (int c = 0; c < window - 7; ++c) {
    if (c % 7 != 3) open(0, 0, c);
    if (c % 5 != 1) open(0, 1, c);
  }
  for (int c = 0; c < window; ++c) open(1, 0, c);
  for (int c = 0; c < 10; ++c) open(1, 1, c);
  open(2, 0, 0);
  open(2, 1, 0);
  std::vector<ggml_fp16_t> k16(k.size()), v16(v.size());
  for (size_t i = 0; i < k.size(); ++i) k16[i] = ggml_fp32_to_fp16(k[i]);
  for (size_t i = 0; i < v.size(); ++i) v16[i] = ggml_fp32_to_fp16(v[i]);
  const bool f16 = kv_type == GGML_TYPE_F16;

  GraphRunner g(threads);
  ggml_tensor* qt = g.input(GGML_TYPE_F32, {hd, n_head, nq, n_streams});
  ggml_tensor* kt = g.input(kv_type, {hd, n_head_kv, window, n_streams});
  ggml_tensor* vt = g.input(kv_type, {hd, n_head_kv, window, n_streams});
  ggml_tensor* mt = g.input(GGML_TYPE_F16, {window, nq, 1, n_streams});
  auto out = g.run(decode_attention_cpu(g.ctx(), qt, kt, vt, mt),
                   {q.data(), f16 ? static_cast<const void*>(k16.data()) : k.data(),
                    f16 ? static_cast<const void*>(v16.data()) : v.data(), mask.data()});
  ASSERT_EQ(out.size(), q.size());
  for (int s = 0; s < n_streams; ++s) {
    for (int t = 0; t < nq; ++t) {
      const ggml_fp16_t* m = mask.data() + (s * nq + t) * window;
      for (int h = 0; h < n_head; ++h) {
        const int hk = h / (n_head / n_head_kv);
        const float* qv = q.data() + ((s * nq + t) * n_head + h) * hd;
        auto row = [&](const std::vector<float>& x, int c) {
          return x.data() + ((s * window + c) * n_head_kv + hk) * hd;
        };
        std::vector<double> w(window, 0.0);
        double top = -INFINITY, sum = 0;
        for (int c = 0; c < window; ++c) {
          if (std::isinf(ggml_fp16_to_fp32(m[c]))) continue;
          double dot = 0;
          for (int d = 0; d < hd; ++d) dot += qv[d] * row(k, c)[d];
          w[c] = dot;
          top = std::max(top, dot);
        }
        for (int c = 0; c < window; ++c) {
          w[c] = std::isinf(ggml_fp16_to_fp32(m[c])) ? 0.0 : std::exp(w[c] - top);
          sum += w[c];
        }
        for (int d = 0; d < hd; ++d) {
          double e = 0;
          for (int c = 0; c < window; ++c) e += w[c] / sum * row(v, c)[d];
          EXPECT_NEAR(out[((s * nq + t) * n_head + h) * hd + d], e, 1e-5)
              << "stream " << s << " query " << t << " head " << h << " dim " << d;
        }
      }
    }
  }
}

TEST(DecodeAttention, MatchesDefinitionWithF16Cells) {
  check_decode_attention(GGML_TYPE_F16);
}
TEST(DecodeAttention, MatchesDefinitionWithF32Cells) {
  check_decode_attention(GGML_TYPE_F32);
}
// A head size with a part under sixteen elements, rows of several blocks of cells and of sixteen-lane
// sums with a remainder, scores spread past e^x's underflow, and the units shared out over two and
// three threads.
TEST(DecodeAttention, MatchesDefinitionOverLongRowsOddHeadSizesAndThreads) {
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    check_decode_attention(GGML_TYPE_F16, 40, 150, threads, 1.0f);
    check_decode_attention(GGML_TYPE_F16, 64, 101, threads, 40.0f);
  }
}

// A query's result is the same floats whatever else the op computes beside it: the stream's place
// among others, the window's length (cells past the mask) and the threads change nothing. The engine relies on
// this for a token to attend alike alone and in a batch.
TEST(DecodeAttention, AQuerysResultDoesNotDependOnTheOtherStreamsOrTheWindow) {
  constexpr int hd = 48, nh = 6;
  // Stream `which` of `ns` holds the same query and cells in every call; the others differ.
  auto run = [&](int ns, int which, int window, int threads = 1) {
    std::vector<float> q(hd * nh * ns);
    std::vector<ggml_fp16_t> k(hd * nh * window * ns), v(k.size()), m(window * ns, ggml_fp32_to_fp16(-INFINITY));
    for (int s = 0; s < ns; ++s) {
      const int src = s == which ? 0 : 100 + s;
      for (int i = 0; i < hd * nh; ++i) q[s * hd * nh + i] = std::sin(0.1 * i + src);
      for (int c = 0; c < window; ++c) {
        for (int i = 0; i < hd * nh; ++i) {
          k[(s * window + c) * hd * nh + i] = ggml_fp32_to_fp16(std::cos(0.01 * i + c + src));
          v[(s * window + c) * hd * nh + i] = ggml_fp32_to_fp16(std::sin(0.02 * i - c + src));
        }
      }
      for (int c = 0; c < 45; ++c) m[s * window + c] = ggml_fp32_to_fp16(0.0f);
    }
    GraphRunner g(threads);
    ggml_tensor* qt = g.input(GGML_TYPE_F32, {hd, nh, 1, ns});
    ggml_tensor* kt = g.input(GGML_TYPE_F16, {hd, nh, window, ns});
    ggml_tensor* vt = g.input(GGML_TYPE_F16, {hd, nh, window, ns});
    ggml_tensor* mt = g.input(GGML_TYPE_F16, {window, 1, 1, ns});
    const auto out = g.run(decode_attention_cpu(g.ctx(), qt, kt, vt, mt), {q.data(), k.data(), v.data(), m.data()});
    return std::vector<float>(out.begin() + which * hd * nh, out.begin() + (which + 1) * hd * nh);
  };
  const auto alone = run(1, 0, 256);
  EXPECT_EQ(run(5, 3, 256), alone);
  EXPECT_EQ(run(3, 1, 512), alone);
  // Nor the threads the units are shared out over, nor how many heads a unit holds.
  EXPECT_EQ(run(5, 3, 256, 2), alone);
  EXPECT_EQ(run(2, 1, 256, 3), alone);
}

}  // namespace
}  // namespace rbees::ops
