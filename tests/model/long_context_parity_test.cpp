// Logits past the model's 256-token training windows, up to its 1024-token context: 1000 tokens of
// War and Peace fed in prompt chunks of several sizes, token by token, and beside other sequences
// in one cache with home regions (where the per-region and the whole-span attention paths change
// their windows at multiples of 256 cells), each against one full pass over the same tokens, within
// the tolerances of kv_cache_test.cpp: 1e-5 relative for one sequence, 1e-4 for batched ones.
//
// Without flash attention the exact model (F32 weights and cache) is compared. Flash attention is
// compared in batch-invariant mode (ModelOptions::batch_invariant), which promises a token's result
// whatever its batch. By default ggml's CPU backend takes its tiled flash kernel (F32 queries and
// sums) for passes of 64 queries or more, its one-query kernel (queries rounded to F16; with F16
// values, sums in F16) for smaller ones, and tinyBLAS for products of two or more columns; past a
// few hundred positions this model turns those roundings into logit differences of up to 7.5e-3
// relative (printed as the "kernel gap"), so the default mode is held to its one pass only where
// every pass takes the same kernels (chunks of 256 and 257 tokens).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/reference.hpp"
#include "model/war_and_peace.hpp"

namespace rbees::model::testing {
namespace {

constexpr int kLen = 1000;  // tokens of a long sequence: past 256, 512 and 768, short of 1024

ModelOptions with_graph_tokens(ModelOptions o, int n) {
  o.max_graph_tokens = n;
  return o;
}

// The models of this file, loaded once. A full pass evaluates 1000 tokens in one graph.
struct Models {
  LoadedModel exact{kHfDir, with_graph_tokens(exact_options(false), 1024)};
  LoadedModel exact512{kHfDir, exact_options(false)};  // the default 512 tokens per graph
  LoadedModel flash{kHfDir, with_graph_tokens(exact_options(true), 1024)};
  LoadedModel invariant{kHfDir, [] {
                          ModelOptions o = with_graph_tokens(exact_options(true), 1024);
                          o.batch_invariant = true;
                          return o;
                        }()};
  static Models& get() {
    static Models m;
    return m;
  }
};

// kLen tokens of the book from character `offset` on.
const std::vector<int32_t>& text(size_t offset) {
  static std::map<size_t, std::vector<int32_t>> memo;
  auto it = memo.find(offset);
  if (it == memo.end()) it = memo.emplace(offset, war_and_peace_ids(offset, kLen)).first;
  return it->second;
}

// Every position's logits of text(offset) from one pass of `m`.
const std::vector<float>& full_pass(LlamaModel& m, size_t offset) {
  static std::map<std::pair<LlamaModel*, size_t>, std::vector<float>> memo;
  auto it = memo.find({&m, offset});
  if (it == memo.end()) {
    KvCache kv = m.create_kv_cache(1024, GGML_TYPE_F32);
    it = memo.emplace(std::make_pair(&m, offset), m.forward(prompt_batch(text(offset)), kv)).first;
  }
  return it->second;
}

// The largest difference between two runs' logits over the rows that `got` holds.
struct RowsDiff {
  double worst_rel = 0;  // rel_l2 of the worst row
  int worst_pos = -1;
  double max_abs = 0;  // largest absolute logit difference of any row
};

// `want` from position `from` on (when `got` starts there).
RowsDiff compare_rows(const std::vector<float>& got, const std::vector<float>& want, int n_vocab, int from = 0) {
  RowsDiff d;
  EXPECT_GT(got.size(), 0u);
  EXPECT_LE(got.size(), want.size());
  const int n = static_cast<int>(std::min(got.size(), want.size()) / n_vocab);
  for (int p = 0; p < n; ++p) {
    double num = 0, den = 0;
    for (int i = 0; i < n_vocab; ++i) {
      const double w = want[static_cast<size_t>(p) * n_vocab + i];
      const double e = got[static_cast<size_t>(p) * n_vocab + i] - w;
      num += e * e;
      den += w * w;
      d.max_abs = std::max(d.max_abs, std::abs(e));
    }
    const double rel = std::sqrt(num / den);
    // A NaN row is the worst and stays so.
    if (d.worst_pos < 0 || (!std::isnan(d.worst_rel) && (std::isnan(rel) || rel > d.worst_rel))) {
      d.worst_rel = rel;
      d.worst_pos = from + p;
    }
  }
  return d;
}

void report(const RowsDiff& d, const std::string& what) {
  std::printf("[ parity   ] %-46s worst rel_l2 %.3e at position %4d, max |diff| %.3e\n", what.c_str(), d.worst_rel,
              d.worst_pos, d.max_abs);
  ::testing::Test::RecordProperty(what, std::to_string(d.worst_rel));
}

void expect_close(const RowsDiff& d, double tol, const std::string& what) {
  report(d, what);
  EXPECT_LT(d.worst_rel, device_tolerance(tol)) << what << ": worst row at position " << d.worst_pos;
}

// Every position's logits with the sequence fed `first` tokens, then `chunk` tokens per pass.
std::vector<float> chunked(LlamaModel& m, const std::vector<int32_t>& ids, int first, int chunk) {
  KvCache kv = m.create_kv_cache(1024, GGML_TYPE_F32);
  std::vector<float> out;
  const int n = static_cast<int>(ids.size());
  for (int begin = 0, size = first; begin < n; begin += size, size = chunk) {
    const int end = std::min(n, begin + size);
    const std::vector<int32_t> part(ids.begin() + begin, ids.begin() + end);
    const auto logits = m.forward(prompt_batch(part, 0, begin), kv);
    out.insert(out.end(), logits.begin(), logits.end());
  }
  return out;
}

class LongContextParity : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_war_and_peace()) GTEST_SKIP() << "../shared is absent: no " << kWarAndPeace;
    if (testing_on_gpu()) GTEST_SKIP() << "compares the CPU's attention kernels";
  }
};

// The tolerance is that of the short-context tests of incremental decoding (kv_cache_test.cpp): the
// same kernels fed in other chunks hold to 1e-5 of one pass.
TEST_F(LongContextParity, PromptChunksAndTokenByTokenMatchOneFullPass) {
  Models& models = Models::get();
  const auto& ids = text(0);
  const int V = models.exact.model->n_vocab();

  const auto& exact = full_pass(*models.exact.model, 0);
  expect_close(compare_rows(chunked(*models.exact512.model, ids, kLen, kLen), exact, V), 1e-5,
               "exact, one pass in graphs of 512");
  for (int c : {7, 64, 255, 256, 257}) {
    expect_close(compare_rows(chunked(*models.exact.model, ids, c, c), exact, V), 1e-5,
                 "exact, chunks of " + std::to_string(c));
  }
  // A prompt of 200 tokens, then one token per pass past 256, 512 and 768.
  expect_close(compare_rows(chunked(*models.exact.model, ids, 200, 1), exact, V), 1e-5,
               "exact, token by token from 200");

  LlamaModel& invariant = *models.invariant.model;
  const auto& invariant_want = full_pass(invariant, 0);
  for (int c : {7, 64, 257}) {
    expect_close(compare_rows(chunked(invariant, ids, c, c), invariant_want, V), 1e-5,
                 "flash batch-invariant, chunks of " + std::to_string(c));
  }
  expect_close(compare_rows(chunked(invariant, ids, 200, 1), invariant_want, V), 1e-5,
               "flash batch-invariant, token by token from 200");

  LlamaModel& flash = *models.flash.model;
  const auto& flash_want = full_pass(flash, 0);
  for (int c : {256, 257}) {
    expect_close(compare_rows(chunked(flash, ids, c, c), flash_want, V), 1e-5,
                 "flash default, chunks of " + std::to_string(c));
  }

  // For the record: what the default mode's kernel choices, and flash attention's F16 keys and
  // values, do to the logits at this length.
  report(compare_rows(invariant_want, flash_want, V), "kernel gap: batch-invariant against default");
  report(compare_rows(flash_want, exact, V), "flash against exact");
}

// One sequence of a batched run: its stretch of the book, the prompt it starts with (evaluated in
// chunks within each step's budget) and the length at which it leaves the cache.
struct Plan {
  size_t offset;
  int prompt;
  int end;
};

// The sequences run as the batch engine schedules them, sequence s in slot s: each step one token
// of every sequence past its prompt (slot order, so the model's per-region path takes them), then
// prompt chunks within `budget` tokens (the whole-span path). Every token wants its logits. A
// sequence that reaches its end is removed. Returns each sequence's logits of every position.
std::vector<std::vector<float>> run_batched(LlamaModel& m, KvCache& kv, const std::vector<Plan>& plans, int budget) {
  const int V = m.n_vocab();
  const size_t n = plans.size();
  std::vector<std::vector<float>> out(n);
  std::vector<int> done(n, 0);
  for (size_t s = 0; s < n; ++s) out[s].resize(static_cast<size_t>(plans[s].end) * V);
  for (;;) {
    Batch b;
    std::vector<int> take(n, 0);
    for (size_t s = 0; s < n; ++s) {
      if (done[s] >= plans[s].prompt && done[s] < plans[s].end) {
        b.add(text(plans[s].offset)[done[s]], done[s], static_cast<int32_t>(s), true);
        take[s] = 1;
      }
    }
    int left = budget;
    for (size_t s = 0; s < n && left > 0; ++s) {
      if (done[s] >= plans[s].prompt) continue;
      take[s] = std::min(left, plans[s].prompt - done[s]);
      for (int i = 0; i < take[s]; ++i) {
        b.add(text(plans[s].offset)[done[s] + i], done[s] + i, static_cast<int32_t>(s), true);
      }
      left -= take[s];
    }
    if (b.size() == 0) break;
    const auto logits = m.forward(b, kv);
    for (size_t r = 0; r < b.size(); ++r) {
      const size_t s = static_cast<size_t>(b.seq_ids[r]);
      std::copy_n(logits.begin() + static_cast<std::ptrdiff_t>(r * V), V,
                  out[s].begin() + static_cast<std::ptrdiff_t>(b.positions[r]) * V);
    }
    for (size_t s = 0; s < n; ++s) {
      done[s] += take[s];
      if (take[s] > 0 && done[s] == plans[s].end) kv.seq_rm(static_cast<int32_t>(s));
    }
  }
  return out;
}

// Each sequence of a batched run of `m` against one full pass of its own. The tolerance is that of
// the short-context tests of sequences batched together (kv_cache_test.cpp).
void expect_batched_parity(LlamaModel& m, const std::vector<Plan>& plans, int cells, int regions,
                           const std::string& what) {
  KvCache kv = m.create_kv_cache(cells, GGML_TYPE_F32);
  kv.set_regions(regions);  // as the batch engine does: one home region per sequence slot
  const auto got = run_batched(m, kv, plans, 64);
  EXPECT_EQ(kv.used(), 0);
  for (size_t s = 0; s < plans.size(); ++s) {
    expect_close(compare_rows(got[s], full_pass(m, plans[s].offset), m.n_vocab()), 1e-4,
                 what + ", sequence " + std::to_string(s));
  }
}

const std::vector<Plan> kAtHome = {{0, 490, 1000}, {100000, 500, 800}, {200000, 760, 1000}, {300000, 200, 300}};
const std::vector<Plan> kCrowded = {{0, 400, 1000}, {100000, 100, 400}, {200000, 300, 500}, {300000, 30, 120}};

// Four sequences at different lengths in regions of 1024 cells: every one stays at home, so the
// decode tokens attend per region over windows that grow from 512 to 1024 cells as the sequences
// pass 512 and 768 positions (the shortest passes 256), while the prompt chunks beside them take the
// whole-span path.
TEST_F(LongContextParity, SequencesInTheirHomeRegionsMatchOneFullPassEach) {
  expect_batched_parity(*Models::get().invariant.model, kAtHome, 4096, 4, "flash batch-invariant, home regions");
}

// Regions of 512 cells: the long sequence outgrows its own and takes free cells in the others', and
// the sequence whose region it shares reads its own cells between the intruder's. (Without flash
// attention every token attends over the whole span.)
TEST_F(LongContextParity, SequencesOutgrowingTheirRegionsMatchOneFullPassEach) {
  expect_batched_parity(*Models::get().exact.model, kCrowded, 2048, 4, "exact, outgrown regions");
}

// Flash attention by default: the decode tokens of the sequences that outgrew their regions attend
// together, each over its own cells gathered in position order, in one batched attention. Each
// sequence's rows are those of the same sequence run alone in the same slot. (Against one full pass
// the default mode's rows differ by up to ~6e-3 relative, batched or alone: the full pass's tiled
// flash kernel against the decode tokens' F32 one, the "kernel gap" reported above.)
TEST_F(LongContextParity, OutgrownSequencesAttendingTogetherMatchEachAlone) {
  // Sequences 0 and 1 outgrow their 512-cell regions. Each prompt is one chunk, together or alone
  // (a budget of 1024 tokens), so that only the decode steps differ.
  const std::vector<Plan> plans = {{0, 400, 700}, {100000, 300, 620}, {200000, 100, 300}, {300000, 30, 120}};
  LlamaModel& m = *Models::get().flash.model;
  KvCache kv = m.create_kv_cache(2048, GGML_TYPE_F32);
  kv.set_regions(4);
  const auto together = run_batched(m, kv, plans, 1024);
  for (size_t s = 0; s < plans.size(); ++s) {
    std::vector<Plan> only(plans.size(), Plan{0, 0, 0});  // the others do nothing
    only[s] = plans[s];
    KvCache alone_kv = m.create_kv_cache(2048, GGML_TYPE_F32);
    alone_kv.set_regions(4);
    const auto alone = run_batched(m, alone_kv, only, 1024);
    expect_close(compare_rows(together[s], alone[s], m.n_vocab()), 1e-4,
                 "flash default, outgrown regions, sequence " + std::to_string(s) + " against alone");
  }
}

// The last 100 tokens of the sequence in cells below its first 900: cells that another sequence held
// while the first 900 were placed. Every row from position 900 on against one full pass.
RowsDiff out_of_order(LlamaModel& m) {
  const auto& ids = text(0);
  KvCache kv = m.create_kv_cache(1024, GGML_TYPE_F32);
  std::vector<int32_t> filler_pos(100);
  for (int i = 0; i < 100; ++i) filler_pos[i] = i;
  kv.place(std::vector<int32_t>(100, 1), filler_pos);  // sequence 1 in cells 0-99
  std::vector<float> got;
  for (int begin = 0; begin < 900; begin += 300) {
    m.forward(prompt_batch({ids.begin() + begin, ids.begin() + begin + 300}, 0, begin), kv);
  }
  kv.seq_rm(1);
  for (int p = 900; p < kLen; ++p) {
    const auto row = m.forward(prompt_batch({ids[p]}, 0, p), kv);
    got.insert(got.end(), row.begin(), row.end());
  }
  EXPECT_EQ(kv.seq_cells(0)[900], 0);  // the layout the test is about
  const auto& want = full_pass(m, 0);
  return compare_rows(got, {want.begin() + 900L * m.n_vocab(), want.end()}, m.n_vocab(), 900);
}

TEST_F(LongContextParity, SequenceInCellsOutOfPositionOrderMatchesOneFullPass) {
  expect_close(out_of_order(*Models::get().exact.model), 1e-5, "exact, cells out of position order (from 900)");
}

// The same in flash attention's batch-invariant mode. ggml's one-query flash kernel sums over the
// cells in cell order (in F16 with F16 values), so a sequence whose cells are out of position order
// (here from position 900; in the outgrown-regions run, from 701) would round otherwise than one
// full pass, and this model at these positions turns that into 1e-3 relative and more: the mode
// gathers such a sequence's cells in position order.
TEST_F(LongContextParity, BatchInvariantSequenceInCellsOutOfPositionOrderMatchesOneFullPass) {
  expect_close(out_of_order(*Models::get().invariant.model), 1e-5,
               "flash batch-invariant, cells out of position order (from 900)");
  expect_batched_parity(*Models::get().invariant.model, kCrowded, 2048, 4, "flash batch-invariant, outgrown regions");
}

}  // namespace
}  // namespace rbees::model::testing
