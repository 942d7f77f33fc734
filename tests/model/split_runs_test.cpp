// Prompt chunks attended as two halves of their rows (ModelOptions::split_prompt_attention) against
// the same chunks attended whole: the same logits for every row, odd chunks (whose halves borrow the
// row after or before them) and a later chunk of a sequence included, and the tokens counted.
#include <gtest/gtest.h>

#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

ModelOptions split_options(bool split) {
  ModelOptions o = exact_options(true);
  o.max_graph_tokens = 1024;
  o.split_prompt_attention = split;
  return o;
}

// n token ids from a fixed pseudo-random sequence: the two paths see the same tokens, whatever they are.
std::vector<int32_t> ids(uint32_t seed, int n, int n_vocab) {
  std::vector<int32_t> out;
  uint32_t x = seed;
  for (int i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    out.push_back(static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(n_vocab)));
  }
  return out;
}

struct Chunk {
  int32_t seq;
  int32_t from;  // first position
  int n;
};

class SplitRuns : public ::testing::Test {
 protected:
  static LoadedModel& whole() {
    static LoadedModel m(kHfDir, split_options(false));
    return m;
  }
  static LoadedModel& halves() {
    static LoadedModel m(kHfDir, split_options(true));
    return m;
  }
  SplitRuns() {
    for (KvCache* kv : {&kv_whole_, &kv_halves_}) kv->set_regions(4);  // 1024 cells each
  }

  // One pass of the chunks, every row wanting logits, through both models; expects the same logits
  // and returns how many tokens the halves model split.
  uint64_t pass(const std::vector<Chunk>& chunks) {
    const int V = whole().model->n_vocab();
    Batch b;
    for (const Chunk& c : chunks) {
      const std::vector<int32_t> t = ids(static_cast<uint32_t>(c.seq * 7919 + c.from), c.n, V);
      for (int i = 0; i < c.n; ++i) b.add(t[static_cast<size_t>(i)], c.from + i, c.seq, true);
    }
    const ForwardTimings before = halves().model->timings();
    const std::vector<float> lw = whole().model->forward(b, kv_whole_);
    const std::vector<float> lh = halves().model->forward(b, kv_halves_);
    EXPECT_EQ(lh.size(), lw.size());
    if (lh.size() != lw.size()) return 0;
    const size_t rows = lw.size() / static_cast<size_t>(V);
    for (size_t r = 0; r < rows; ++r) {
      const std::vector<float> a(lw.begin() + static_cast<long>(r * V), lw.begin() + static_cast<long>((r + 1) * V));
      const std::vector<float> h(lh.begin() + static_cast<long>(r * V), lh.begin() + static_cast<long>((r + 1) * V));
      EXPECT_LT(rel_l2(h, a), device_tolerance(1e-5)) << "row " << r;
      EXPECT_EQ(argmax(h.data(), V), argmax(a.data(), V)) << "row " << r;
    }
    return halves().model->timings().since(before).split_run_tokens;
  }

  KvCache kv_whole_ = whole().model->create_kv_cache(4096);
  KvCache kv_halves_ = halves().model->create_kv_cache(4096);
};

TEST_F(SplitRuns, ChunksOfSeveralSequencesOddAndEvenGiveTheLogitsOfWholeChunks) {
  // An odd chunk with a row after it, an even one, and an odd one with only a row before it.
  EXPECT_EQ(pass({{0, 0, 301}, {1, 0, 300}, {2, 0, 301}}), 902u);
  // Later chunks: of sequence 0 (positions 301-600, a 768-cell window) and a short one of 1, which
  // is not split (fewer than kSplitRunMinTokens tokens).
  EXPECT_EQ(pass({{0, 301, 300}, {1, 300, 100}}), 300u);
  // A lone odd chunk has no row to borrow: attended whole.
  EXPECT_EQ(pass({{3, 0, 301}}), 0u);
  // A lone even one is split.
  EXPECT_EQ(pass({{2, 301, 256}}), 256u);
  // Then decode steps read what the halves wrote.
  EXPECT_EQ(pass({{0, 601, 1}, {1, 400, 1}, {2, 557, 1}, {3, 301, 1}}), 0u);
  for (int32_t s = 0; s < 4; ++s) EXPECT_EQ(kv_halves_.seq_cells(s), kv_whole_.seq_cells(s)) << "sequence " << s;
}

TEST_F(SplitRuns, AChunkWhoseHalvesSkipNothingOrDoNotFitIsAttendedWhole) {
  // The first half of positions 700-899 ends within the 1024-cell window's last key tile.
  EXPECT_EQ(pass({{1, 0, 700}}), 700u);
  EXPECT_EQ(pass({{1, 700, 200}}), 0u);
  // The last region's 768-cell window, read twice, would run past the cache's storage.
  EXPECT_EQ(pass({{3, 0, 300}}), 300u);
  EXPECT_EQ(pass({{3, 300, 256}}), 0u);
}

}  // namespace
}  // namespace rbees::model::testing
