// Times the model's attention op (ops::attention, ggml's flash kernel) on one device in the shapes a
// serving step gives it, each against the alternative the model could take, and checks that both
// give the same output:
//   - prompt chunks (--chunks N:BASE,...: N tokens after BASE cached ones, one home's window of
//     ceil256(BASE + N) cells): attended whole, and as two halves of their rows batched as two
//     sequences over the window read twice (KvAttention::split_run);
//   - decode streams (--streams S:R:CELLS,...): one query each for R real streams of CELLS cells
//     among S streams of whole homes (--home cells), the rest placeholders with closed masks (a
//     padded decode step late in a run), against the R real streams alone and against each of them
//     in an op of its own;
//   - full decode steps (--spread S:LMIN:LMAX,...): S streams of lengths spread over LMIN-LMAX cells,
//     over windows of whole homes (as stable decode shapes read them) and of the longest length.
// Prints one line per case: median and range of the op's time over --reps runs, TFLOPS counting the
// query-key pairs the masks open, and the largest output difference.
//
//   rbees-attention-bench [--device cuda:0] [--head-dim 128] [--heads 32] [--kv-heads 32] [--reps 50]

#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/device.hpp"
#include "ops/attention.hpp"
#include "ops/decode_attention.hpp"

namespace {

namespace ops = rbees::ops;

constexpr int kKeyTile = 256;          // ggml's FATTN_KQ_STRIDE: windows are multiples of it
constexpr int kMaskRows = 64;          // a run's mask rows are padded to this (model/kv_attention.hpp)
constexpr size_t kCaseTensors = 2048;  // GGML_DEFAULT_GRAPH_SIZE: a case's graph holds no more

int round_up(int n, int to) {
  return (n + to - 1) / to * to;
}

struct Dims {
  int head_dim = 128;
  int heads = 32;
  int kv_heads = 32;
};

// One graph's tensors and buffers on the backend: built by `build`, which gets a context and
// returns the output; inputs are filled by `fill` once allocated.
class Case {
 public:
  Case(ggml_backend_t backend, const std::function<ggml_tensor*(ggml_context*)>& build) : backend_(backend) {
    // Metadata only (no_alloc): room for the largest case, a few nodes per stream for 64 streams
    // attended one op each, in one default-sized graph.
    ctx_ = ggml_init({ggml_tensor_overhead() * kCaseTensors + ggml_graph_overhead(), nullptr, true});
    out_ = build(ctx_);
    gf_ = ggml_new_graph(ctx_);
    ggml_build_forward_expand(gf_, out_);
    alloc_ = ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend_));
    if (!ggml_gallocr_alloc_graph(alloc_, gf_)) throw std::runtime_error("cannot allocate the graph");
  }
  ~Case() {
    ggml_gallocr_free(alloc_);
    ggml_free(ctx_);
  }
  Case(const Case&) = delete;
  Case& operator=(const Case&) = delete;

  // Milliseconds of each of `reps` computes, after three untimed ones.
  std::vector<double> time(int reps) {
    std::vector<double> ms;
    for (int i = 0; i < reps + 3; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      if (ggml_backend_graph_compute(backend_, gf_) != GGML_STATUS_SUCCESS) throw std::runtime_error("compute failed");
      const auto t1 = std::chrono::steady_clock::now();
      if (i >= 3) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    return ms;
  }
  std::vector<float> output() const {
    std::vector<float> v(static_cast<size_t>(ggml_nelements(out_)));
    ggml_backend_tensor_get(out_, v.data(), 0, ggml_nbytes(out_));
    return v;
  }

 private:
  ggml_backend_t backend_;
  ggml_context* ctx_ = nullptr;
  ggml_tensor* out_ = nullptr;
  ggml_cgraph* gf_ = nullptr;
  ggml_gallocr_t alloc_ = nullptr;
};

// Tensors that stay put across cases' graphs: a cache and the queries, random, on the backend.
struct Inputs {
  ggml_context* ctx = nullptr;
  ggml_backend_buffer_t buf = nullptr;
  ggml_tensor* k = nullptr;  // F16 [kv_heads * head_dim, cells]
  ggml_tensor* v = nullptr;
  ggml_tensor* q = nullptr;  // F32 [head_dim, heads, rows]
  Dims dims;
  Inputs(ggml_backend_t backend, const Dims& d, int cells, int rows) : dims(d) {
    ctx = ggml_init({ggml_tensor_overhead() * 4, nullptr, true});
    k = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, static_cast<int64_t>(d.kv_heads) * d.head_dim, cells);
    v = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, static_cast<int64_t>(d.kv_heads) * d.head_dim, cells);
    q = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, d.head_dim, d.heads, rows);
    buf = ggml_backend_alloc_ctx_tensors(ctx, backend);
    // A random block of a prime length, repeated: caches of gigabytes fill in a moment, and no two
    // nearby rows are alike.
    std::mt19937 rng(7);
    std::normal_distribution<float> n(0.0f, 1.0f);
    std::vector<float> block(1000003);
    for (auto& x : block) x = n(rng);
    for (ggml_tensor* t : {k, v}) {
      std::vector<ggml_fp16_t> h(static_cast<size_t>(ggml_nelements(t)));
      for (size_t i = 0; i < h.size(); ++i) h[i] = ggml_fp32_to_fp16(block[(i + (t == v ? 7919 : 0)) % block.size()]);
      ggml_backend_tensor_set(t, h.data(), 0, ggml_nbytes(t));
    }
    std::vector<float> f(static_cast<size_t>(ggml_nelements(q)));
    for (size_t i = 0; i < f.size(); ++i) f[i] = block[(i + 104729) % block.size()];
    ggml_backend_tensor_set(q, f.data(), 0, ggml_nbytes(q));
  }
  // Cells of `t` (k or v) as ggml's attention reads a cache: [head_dim, kv_heads, window, streams],
  // stream j from cell first + j * stride (a stride of 0 reads one window again).
  ggml_tensor* cells(ggml_context* c, ggml_tensor* t, int window, int streams, size_t stride, size_t first) const {
    const size_t es = ggml_element_size(t);
    return ggml_view_4d(c, t, dims.head_dim, dims.kv_heads, window, streams, dims.head_dim * es, t->nb[1],
                        stride * t->nb[1], first * t->nb[1]);
  }
  // The queries' rows as [head_dim, heads, rows, streams], stream j from row first + j * stride.
  ggml_tensor* queries(ggml_context* c, int rows, int streams, size_t stride, size_t first) const {
    return ggml_view_4d(c, q, dims.head_dim, dims.heads, rows, streams, q->nb[1], q->nb[2], stride * q->nb[2],
                        first * q->nb[2]);
  }
  ops::AttentionParams params() const { return {1.0f / std::sqrt(static_cast<float>(dims.head_dim)), true}; }
  ~Inputs() {
    ggml_backend_buffer_free(buf);
    ggml_free(ctx);
  }
  Inputs(const Inputs&) = delete;
  Inputs& operator=(const Inputs&) = delete;
};

// A mask input: F16 values given on the host, uploaded after the graph is allocated.
struct MaskInput {
  ggml_tensor* t = nullptr;
  std::vector<ggml_fp16_t> values;
  void upload() const { ggml_backend_tensor_set(t, values.data(), 0, ggml_nbytes(t)); }
};

// Rows of `window` values: row r open for cells [0, open[r]).
std::vector<ggml_fp16_t> mask_rows(int window, const std::vector<int>& open) {
  const ggml_fp16_t closed = ggml_fp32_to_fp16(-std::numeric_limits<float>::infinity());
  const ggml_fp16_t zero = ggml_fp32_to_fp16(0.0f);
  std::vector<ggml_fp16_t> m(open.size() * static_cast<size_t>(window), closed);
  for (size_t r = 0; r < open.size(); ++r) std::fill_n(m.begin() + static_cast<long>(r * window), open[r], zero);
  return m;
}

struct Stats {
  double median = 0, lo = 0, hi = 0;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return a.size() == b.size() ? d : std::numeric_limits<double>::infinity();
}

double worst_diff = 0;  // over every case printed: what --max-diff checks

void print(const char* what, const std::string& shape, const Stats& s, double flops, double diff) {
  worst_diff = std::max(worst_diff, diff);
  std::printf("%-8s %-34s %9.1f us (%.1f-%.1f)  %7.1f TFLOPS  max diff %.2e\n", what, shape.c_str(), s.median * 1e3,
              s.lo * 1e3, s.hi * 1e3, flops / (s.median * 1e-3) / 1e12, diff);
}

// A prompt chunk of n tokens after base cached ones, whole and in halves.
void chunk_case(ggml_backend_t backend, const Dims& d, int n, int base, int reps) {
  const int window = round_up(base + n, kKeyTile);
  Inputs in(backend, d, 2 * window, n + 1);  // one spare query row: an odd chunk's halves borrow one
  const ops::AttentionParams p = in.params();
  const int64_t hd = d.head_dim;
  std::vector<int> open(static_cast<size_t>(n));
  double pairs = 0;
  for (int t = 0; t < n; ++t) pairs += open[static_cast<size_t>(t)] = base + t + 1;
  const double flops = 4.0 * hd * d.heads * pairs;

  MaskInput whole_mask;
  Case whole(backend, [&](ggml_context* ctx) {
    ggml_tensor* q = in.queries(ctx, n, 1, 0, 0);
    ggml_tensor* k = in.cells(ctx, in.k, window, 1, 0, 0);
    ggml_tensor* v = in.cells(ctx, in.v, window, 1, 0, 0);
    const int rows = round_up(n, kMaskRows);
    whole_mask.t = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, window, rows);
    ggml_set_input(whole_mask.t);
    std::vector<int> o = open;
    o.resize(static_cast<size_t>(rows), 0);
    whole_mask.values = mask_rows(window, o);
    ggml_tensor* m = ggml_view_2d(ctx, whole_mask.t, window, n, whole_mask.t->nb[1], 0);
    return ops::attention(ctx, q, k, v, m, p);
  });
  whole_mask.upload();
  const Stats sw = stats(whole.time(reps));
  const std::vector<float> ref = whole.output();
  print("whole", "chunk " + std::to_string(n) + " after " + std::to_string(base) + ", window " + std::to_string(window),
        sw, flops, 0.0);

  if (ggml_backend_is_cpu(backend)) {
    // The CPU's own op, which takes prompt pieces under ops::kCpuTiledAttentionQueries tokens.
    MaskInput op_mask;
    Case op(backend, [&](ggml_context* ctx) {
      ggml_tensor* q = ggml_cont(ctx, in.queries(ctx, n, 1, 0, 0));
      ggml_tensor* k = in.cells(ctx, in.k, window, 1, 0, 0);
      ggml_tensor* v = in.cells(ctx, in.v, window, 1, 0, 0);
      op_mask.t = ggml_new_tensor_4d(ctx, GGML_TYPE_F16, window, n, 1, 1);
      ggml_set_input(op_mask.t);
      op_mask.values = mask_rows(window, open);
      return ops::decode_attention_cpu(ctx, ggml_scale(ctx, q, p.scale), k, v, op_mask.t);
    });
    op_mask.upload();
    const Stats so = stats(op.time(reps));
    print("cpu-op",
          "chunk " + std::to_string(n) + " after " + std::to_string(base) + ", window " + std::to_string(window), so,
          flops, max_diff(op.output(), ref));
  }

  const int h = (n + 1) / 2;
  const int rows = round_up(h, kMaskRows);
  MaskInput halves_mask;
  Case halves(backend, [&](ggml_context* ctx) {
    ggml_tensor* q = in.queries(ctx, h, 2, h, 0);
    ggml_tensor* k = in.cells(ctx, in.k, window, 2, 0, 0);
    ggml_tensor* v = in.cells(ctx, in.v, window, 2, 0, 0);
    halves_mask.t = ggml_new_tensor_4d(ctx, GGML_TYPE_F16, window, rows, 1, 2);
    ggml_set_input(halves_mask.t);
    std::vector<int> o(static_cast<size_t>(2 * rows), 0);
    for (int s = 0; s < 2; ++s) {
      for (int t = 0; t < h; ++t) {
        const int row = s * rows + t;
        o[static_cast<size_t>(row)] = open[static_cast<size_t>(std::min(s * h + t, n - 1))];
      }
    }
    halves_mask.values = mask_rows(window, o);
    return ops::attention(ctx, q, k, v, halves_mask.t, p);
  });
  halves_mask.upload();
  const Stats sh = stats(halves.time(reps));
  std::vector<float> got = halves.output();
  got.resize(ref.size());  // an odd chunk's borrowed row comes last
  print("halves",
        "chunk " + std::to_string(n) + " after " + std::to_string(base) + ", window " + std::to_string(window), sh,
        flops, max_diff(got, ref));
}

// One query per stream: r real streams of `cells` cells among s streams of `home` cells each.
void streams_case(ggml_backend_t backend, const Dims& d, int s, int r, int cells, int home, int reps) {
  Inputs in(backend, d, s * home, s);
  const ops::AttentionParams p = in.params();
  const int64_t hd = d.head_dim;
  const double flops = 4.0 * hd * d.heads * static_cast<double>(r) * cells;
  // Real stream j of the padded case sits at stream j * (s / r): spread as a drain leaves them.
  const int stride = std::max(1, s / r);
  std::vector<float> results[2];
  for (int padded = 1; padded >= 0; --padded) {
    const int n = padded != 0 ? s : r;
    MaskInput mask;
    Case c(backend, [&](ggml_context* ctx) {
      // The unpadded case reads the real streams' homes through a stride of `stride` homes.
      const size_t step = padded != 0 ? 1 : static_cast<size_t>(stride);
      ggml_tensor* q = in.queries(ctx, 1, n, step, 0);
      ggml_tensor* k = in.cells(ctx, in.k, home, n, step * static_cast<size_t>(home), 0);
      ggml_tensor* v = in.cells(ctx, in.v, home, n, step * static_cast<size_t>(home), 0);
      mask.t = ggml_new_tensor_4d(ctx, GGML_TYPE_F16, home, 1, 1, n);
      ggml_set_input(mask.t);
      std::vector<int> o(static_cast<size_t>(n), 0);
      for (int j = 0; j < n; ++j) o[static_cast<size_t>(j)] = padded == 0 || j % stride == 0 ? cells : 0;
      if (padded != 0) {
        int real = 0;
        for (int j = 0; j < n; ++j) {
          if (o[static_cast<size_t>(j)] > 0 && ++real > r) o[static_cast<size_t>(j)] = 0;
        }
      }
      mask.values = mask_rows(home, o);
      return ops::attention(ctx, q, k, v, mask.t, p);
    });
    mask.upload();
    const Stats st = stats(c.time(reps));
    std::vector<float> out = c.output();
    if (padded != 0) {
      // Keep the real streams' rows: stream j * stride.
      const size_t row = static_cast<size_t>(hd * d.heads);
      std::vector<float> real;
      for (int j = 0; j < r; ++j) {
        const auto first = static_cast<size_t>(j) * static_cast<size_t>(stride) * row;
        real.insert(real.end(), out.begin() + static_cast<long>(first), out.begin() + static_cast<long>(first + row));
      }
      out = real;
    }
    results[padded] = out;
    const std::string shape = std::to_string(r) + " of " + std::to_string(n) + " streams, " + std::to_string(cells) +
                              " of " + std::to_string(home) + " cells";
    print(padded != 0 ? "padded" : "real", shape, st, flops, padded != 0 ? 0.0 : max_diff(results[0], results[1]));
  }
  // Each real stream attended alone, over its own cells rounded up to a key tile (one query and one
  // sequence per op: ggml's CUDA backend takes its vector kernel, which splits the cells over blocks).
  const int window = round_up(cells, kKeyTile);
  std::vector<MaskInput> masks(static_cast<size_t>(r));
  Case apart(backend, [&](ggml_context* ctx) {
    ggml_tensor* all = nullptr;
    for (int j = 0; j < r; ++j) {
      const size_t first = static_cast<size_t>(j) * static_cast<size_t>(stride);
      ggml_tensor* q = in.queries(ctx, 1, 1, 0, first);
      ggml_tensor* k = in.cells(ctx, in.k, window, 1, 0, first * static_cast<size_t>(home));
      ggml_tensor* v = in.cells(ctx, in.v, window, 1, 0, first * static_cast<size_t>(home));
      MaskInput& m = masks[static_cast<size_t>(j)];
      m.t = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, window, 1);
      ggml_set_input(m.t);
      m.values = mask_rows(window, {cells});
      ggml_tensor* out = ggml_reshape_2d(ctx, ops::attention(ctx, q, k, v, m.t, p), hd * d.heads, 1);
      all = all == nullptr ? out : ggml_concat(ctx, all, out, 1);
    }
    return all;
  });
  for (const MaskInput& m : masks) m.upload();
  const Stats sa = stats(apart.time(reps));
  print("apart", std::to_string(r) + " streams one op each, " + std::to_string(window) + "-cell windows", sa, flops,
        max_diff(apart.output(), results[0]));
}

// One query per stream for s streams of lengths spread evenly from lmin to lmax cells, over windows
// of whole homes (a decode step's stable shape) and over the longest length rounded up to a key tile.
// On a CPU, also through ops::decode_attention_cpu over whole homes, the op a CPU's decode steps
// take (`cpu-op`).
void spread_case(ggml_backend_t backend, const Dims& d, int s, int lmin, int lmax, int home, int reps) {
  Inputs in(backend, d, s * home, s);
  const ops::AttentionParams p = in.params();
  const int64_t hd = d.head_dim;
  std::vector<int> len(static_cast<size_t>(s));
  double cells = 0;
  for (int j = 0; j < s; ++j) cells += len[static_cast<size_t>(j)] = lmin + (s > 1 ? (lmax - lmin) * j / (s - 1) : 0);
  const double flops = 4.0 * hd * d.heads * cells;
  std::vector<float> ref;
  const bool cpu = ggml_backend_is_cpu(backend);
  for (const int variant : {0, 1, 2}) {
    if (variant == 2 && !cpu) break;
    const int window = variant == 1 ? round_up(lmax, kKeyTile) : home;
    MaskInput mask;
    Case c(backend, [&](ggml_context* ctx) {
      ggml_tensor* q = in.queries(ctx, 1, s, 1, 0);
      ggml_tensor* k = in.cells(ctx, in.k, window, s, static_cast<size_t>(home), 0);
      ggml_tensor* v = in.cells(ctx, in.v, window, s, static_cast<size_t>(home), 0);
      mask.t = ggml_new_tensor_4d(ctx, GGML_TYPE_F16, window, 1, 1, s);
      ggml_set_input(mask.t);
      mask.values = mask_rows(window, len);
      if (variant == 2) return ops::decode_attention_cpu(ctx, ggml_scale(ctx, q, p.scale), k, v, mask.t);
      return ops::attention(ctx, q, k, v, mask.t, p);
    });
    mask.upload();
    const Stats st = stats(c.time(reps));
    const std::vector<float> out = c.output();
    print(variant == 0   ? "homes"
          : variant == 1 ? "longest"
                         : "cpu-op",
          std::to_string(s) + " streams, " + std::to_string(lmin) + "-" + std::to_string(lmax) + " cells, window " +
              std::to_string(window),
          st, flops, ref.empty() ? 0.0 : max_diff(out, ref));
    if (ref.empty()) ref = out;
  }
}

template <typename T>
std::vector<std::vector<T>> parse_list(const std::string& text, const char* what) {
  std::vector<std::vector<T>> out;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    std::vector<T> fields;
    std::stringstream parts(item);
    std::string f;
    while (std::getline(parts, f, ':')) {
      size_t used = 0;
      long v = -1;
      try {
        v = std::stol(f, &used);
      } catch (const std::logic_error&) {
        used = 0;  // not a number, or out of range: reported below with the option's name
      }
      if (used == 0 || used != f.size() || v < 0) {
        throw std::invalid_argument(std::string(what) + ": '" + item + "' is not a list of non-negative integers");
      }
      fields.push_back(static_cast<T>(v));
    }
    out.push_back(fields);
  }
  return out;
}

int run(int argc, char** argv) {
  CLI::App app{"Times the attention op in serving shapes on one device"};
  std::string device = "auto";
  Dims d;
  int reps = 50;
  int threads = 0;
  int home = 1536;
  std::string chunks = "128:0,256:0,300:0,476:0,700:0,1000:0,301:0,300:500,500:400";
  std::string streams = "48:4:970,48:8:880,64:16:900,64:64:600";
  app.add_option("--device", device, "cpu, cuda:N, ... or auto");
  app.add_option("--head-dim", d.head_dim)->check(CLI::PositiveNumber);
  app.add_option("--heads", d.heads)->check(CLI::PositiveNumber);
  app.add_option("--kv-heads", d.kv_heads)->check(CLI::PositiveNumber);
  app.add_option("--reps", reps, "Timed runs per case")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "CPU threads (0: one per core)")->check(CLI::NonNegativeNumber);
  app.add_option("--chunks", chunks, "Prompt chunks, N:BASE,... (empty: none)");
  app.add_option("--streams", streams, "Decode steps, S:R:CELLS,... (empty: none)");
  std::string spread = "64:100:1200,192:100:700";
  app.add_option("--spread", spread,
                 "Full decode steps, S:LMIN:LMAX,...: S streams of LMIN to LMAX cells (empty: none)");
  app.add_option("--home", home, "Cells per home region in the decode cases")->check(CLI::PositiveNumber);
  double tolerance = -1;
  app.add_option("--max-diff", tolerance,
                 "Exit with status 2 when a variant's output differs from its case's first by more than this")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    if (d.heads % d.kv_heads != 0) throw std::invalid_argument("--heads must be a multiple of --kv-heads");
    // Every list is read and checked before the device starts or a case runs: a mistake in the
    // last one is reported at once, not after minutes of the others.
    const auto chunk_list = parse_list<int>(chunks, "--chunks");
    for (const auto& c : chunk_list) {
      if (c.size() != 2 || c[0] < 2) throw std::invalid_argument("--chunks takes N:BASE with N >= 2");
    }
    const auto stream_list = parse_list<int>(streams, "--streams");
    for (const auto& s : stream_list) {
      if (s.size() != 3 || s[1] < 1 || s[1] > s[0] || s[2] < 1 || s[2] > home) {
        throw std::invalid_argument("--streams takes S:R:CELLS with 1 <= R <= S and 1 <= CELLS <= --home");
      }
    }
    const auto spread_list = parse_list<int>(spread, "--spread");
    for (const auto& s : spread_list) {
      if (s.size() != 3 || s[0] < 1 || s[1] < 1 || s[1] > s[2] || s[2] > home) {
        throw std::invalid_argument("--spread takes S:LMIN:LMAX with 1 <= LMIN <= LMAX <= --home");
      }
    }
    const rbees::core::DeviceInfo info = rbees::core::find_device(device);
    ggml_backend_t backend = ggml_backend_dev_init(info.dev, nullptr);
    if (backend == nullptr) throw std::runtime_error("cannot start " + info.id);
    if (ggml_backend_is_cpu(backend)) {
      ggml_backend_cpu_set_n_threads(backend,
                                     threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
    }
    std::printf("device %s (%s), head_dim %d, heads %d, kv_heads %d, %d runs per case\n", info.id.c_str(),
                info.description.c_str(), d.head_dim, d.heads, d.kv_heads, reps);
    for (const auto& c : chunk_list) chunk_case(backend, d, c[0], c[1], reps);
    for (const auto& s : stream_list) streams_case(backend, d, s[0], s[1], s[2], home, reps);
    for (const auto& s : spread_list) spread_case(backend, d, s[0], s[1], s[2], home, reps);
    ggml_backend_free(backend);
    if (tolerance >= 0 && !(worst_diff <= tolerance)) {
      std::fprintf(stderr, "rbees-attention-bench: outputs differ by %.3e, more than --max-diff %.3e\n", worst_diff,
                   tolerance);
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rbees-attention-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (...) {
    std::fprintf(stderr, "rbees-attention-bench: unexpected error\n");
    return 1;
  }
}
