// How a pass's tokens attend over the KV cache (KvAttention), with no model: which tokens form the
// home-region streams, which the gathered streams and which the runs, and what the inputs hold.
#include "model/kv_attention.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/device.hpp"

namespace rbees::model {
namespace {

std::vector<float> as_floats(const std::vector<MaskValue>& mask) {
  std::vector<float> out;
  for (MaskValue v : mask) out.push_back(ggml_fp16_to_fp32(v));
  return out;
}

class KvAttentionTest : public ::testing::Test {
 protected:
  // Regions of 16 cells: [0,16) [16,32) [32,48) [48,64). Sequence 0 holds 3 tokens at home and
  // sequence 2 holds 2; sequence 1 holds 20, 16 at home and 4 in the first free cells of region 0;
  // sequence 3 holds nothing yet. Then the pass's tokens are placed: a decode token of 2, of 0 and of
  // 1, and a 3-token prompt chunk of 3.
  KvAttentionTest() : cpu_(core::find_device("cpu"), 1), kv_(cpu_, 1, 4, 4, 64, GGML_TYPE_F16) {
    kv_.set_regions(4);
    kv_.place({0, 0, 0, 2, 2}, {0, 1, 2, 0, 1});
    std::vector<int32_t> ones(20, 1), pos(20);
    for (int i = 0; i < 20; ++i) pos[i] = i;
    kv_.place(ones, pos);
    kv_.place(seqs_, positions_);
  }
  core::Device cpu_;
  KvCache kv_;
  std::vector<int32_t> seqs_{2, 0, 1, 3, 3, 3};
  std::vector<int32_t> positions_{2, 3, 20, 0, 1, 2};
};

TEST_F(KvAttentionTest, HomeStreamsThenGatheredStreamsThenRuns) {
  const KvAttention attn(kv_, seqs_, positions_, {});
  const AttentionLayout& l = attn.layout();
  // Streams: the leading tokens of sequences at home; stream r is region r, so 3 streams (1 unused).
  EXPECT_EQ(l.n_stream_tokens, 2);
  EXPECT_EQ(l.n_streams, 3);
  EXPECT_FALSE(l.streams_in_order);  // token 0 is stream 2
  EXPECT_EQ(std::vector<int32_t>(attn.stream_rows().begin(), attn.stream_rows().end()),
            (std::vector<int32_t>{1, 0, 0}));
  EXPECT_EQ(std::vector<int32_t>(attn.token_streams().begin(), attn.token_streams().end()),
            (std::vector<int32_t>{2, 0}));
  // Then sequence 1, which outgrew its region: one gathered stream of 21 cells padded to 256.
  EXPECT_EQ(l.n_gathered, 1);
  EXPECT_EQ(l.gathered_window, 256);
  std::vector<int32_t> cells(256);
  std::vector<MaskValue> mask(256);
  attn.fill_gathered(cells.data(), mask.data());
  const std::vector<int32_t> own = kv_.seq_cells(1);
  ASSERT_EQ(own.size(), 21u);
  EXPECT_EQ(std::vector<int32_t>(cells.begin(), cells.begin() + 21), own);
  EXPECT_EQ(cells[21], own[0]);  // padding: the first cell again, masked out
  const auto m = as_floats(mask);
  EXPECT_EQ(std::count(m.begin(), m.begin() + 21, 0.0f), 21);
  EXPECT_TRUE(std::isinf(m[21]) && std::isinf(m[255]));
  // Then the prompt chunk: a run over sequence 3's region, causal.
  ASSERT_EQ(l.runs.size(), 1u);
  EXPECT_EQ(l.runs[0], (AttentionRun{3, 3, 3, 256, 0}));
  // Its mask's rows are padded to kRunMaskRows, the padding closed.
  EXPECT_EQ(l.runs[0].mask_rows(), kRunMaskRows);
  EXPECT_EQ(l.run_mask_values, kRunMaskRows * 256);
  EXPECT_EQ(l.n_general, 0);
  EXPECT_EQ(l.n_kv, 0);
  std::vector<MaskValue> run(kRunMaskRows * 256, 0);
  attn.fill_run_masks(run.data());
  const auto r = as_floats(run);
  for (int t = 0; t < 3; ++t) {
    EXPECT_EQ(std::count(r.begin() + t * 256, r.begin() + (t + 1) * 256, 0.0f), t + 1) << "token " << t;
  }
  EXPECT_EQ(std::count_if(r.begin() + 3 * 256, r.end(), [](float v) { return std::isinf(v) && v < 0; }),
            (kRunMaskRows - 3) * 256);
}

TEST_F(KvAttentionTest, BatchInvarianceGathersEachOutgrownSequenceUnpadded) {
  const KvAttention attn(kv_, seqs_, positions_, {.invariant = true});
  const AttentionLayout& l = attn.layout();
  EXPECT_EQ(l.n_stream_tokens, 2);
  EXPECT_EQ(l.n_gathered, 0);
  ASSERT_EQ(l.runs.size(), 2u);
  EXPECT_EQ(l.runs[0], (AttentionRun{2, 1, 1, 21, 0, true, 0}));
  EXPECT_EQ(l.gather_ints, 21);
  std::vector<int32_t> gather(21);
  attn.fill_run_gathers(gather.data());
  EXPECT_EQ(gather, kv_.seq_cells(1));
}

TEST_F(KvAttentionTest, WithoutFlashAttentionEveryTokenAttendsOverTheWholeSpan) {
  const KvAttention attn(kv_, seqs_, positions_, {.flash = false});
  const AttentionLayout& l = attn.layout();
  EXPECT_EQ(l.n_stream_tokens, 0);
  EXPECT_EQ(l.n_gathered, 0);
  ASSERT_EQ(l.runs.size(), 1u);
  EXPECT_EQ(l.runs[0], (AttentionRun{0, 6, -1, 0, 0}));
  EXPECT_EQ(l.n_general, 6);
  EXPECT_EQ(l.n_kv, 64);  // the used span, rounded up to 256 cells and clamped to the cache
  std::vector<MaskValue> mask(static_cast<size_t>(l.n_kv) * 6);
  attn.fill_general_mask(mask.data());
  const auto m = as_floats(mask);
  // Each token sees its own sequence's cells up to its position.
  const int want[] = {3, 4, 21, 1, 2, 3};
  for (int t = 0; t < 6; ++t) {
    EXPECT_EQ(std::count(m.begin() + t * 64, m.begin() + (t + 1) * 64, 0.0f), want[t]) << "token " << t;
  }
}

// Split runs (AttentionOptions::split_runs) in a cache of 4 regions of 1024 cells: prompt chunks of
// 301 (odd, a token after it), 300 and 301 tokens (odd, the pass's last), each from position 0.
TEST(KvAttentionSplit, ChunksAttendAsTwoHalvesAndOddOnesBorrowANeighbouringRow) {
  const core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, 4096, GGML_TYPE_F16);
  kv.set_regions(4);
  std::vector<int32_t> seqs, pos;
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < (s == 1 ? 300 : 301); ++i) {
      seqs.push_back(s);
      pos.push_back(i);
    }
  }
  kv.place(seqs, pos);
  const KvAttention whole(kv, seqs, pos, {});
  for (const AttentionRun& r : whole.layout().runs) EXPECT_EQ(r.half_rows, 0);
  const KvAttention attn(kv, seqs, pos, {.split_runs = true});
  const AttentionLayout& l = attn.layout();
  ASSERT_EQ(l.runs.size(), 3u);
  // Each half's mask rows are padded to kRunMaskRows: 2 x 192 rows of a 512-cell window.
  EXPECT_EQ(l.runs[0], (AttentionRun{0, 301, 0, 512, 0, false, 0, 151, 0}));
  EXPECT_EQ(l.runs[1], (AttentionRun{301, 300, 1, 512, 384 * 512, false, 0, 150, 0}));
  EXPECT_EQ(l.runs[2], (AttentionRun{601, 301, 2, 512, 2 * 384 * 512, false, 0, 151, -1}));
  EXPECT_EQ(l.run_mask_values, 3 * 384 * 512);
  std::vector<MaskValue> mask(static_cast<size_t>(l.run_mask_values), 0);
  attn.fill_run_masks(mask.data());
  const auto m = as_floats(mask);
  // Open cells of row t of half s of run k (the row's token sees positions 0 up to its own).
  auto open = [&](int k, int s, int t) {
    const auto row = m.begin() + l.runs[k].mask_at + (s * 192 + t) * 512;
    return std::count(row, row + 512, 0.0f);
  };
  for (int t = 0; t < 151; ++t) {
    EXPECT_EQ(open(0, 0, t), t + 1) << t;
    EXPECT_EQ(open(0, 1, t), std::min(151 + t, 300) + 1) << t;  // row 301 is borrowed: row 300's mask
    EXPECT_EQ(open(2, 0, t), std::max(t - 1, 0) + 1) << t;      // row -1 is borrowed: row 0's mask
    EXPECT_EQ(open(2, 1, t), 150 + t + 1) << t;
  }
  for (int t = 0; t < 150; ++t) EXPECT_EQ(open(1, 1, t), 150 + t + 1) << t;
  for (int t = 151; t < 192; ++t) EXPECT_EQ(open(0, 0, t) + open(0, 1, t) + open(2, 1, t), 0) << t;  // padding
}

// Where halves do not pay or cannot be had, the run stays whole: a chunk under kSplitRunMinTokens,
// an odd chunk alone in its pass, a chunk whose first half reaches the window's last key tile, and
// one of kFlashSkipRows tokens or more (ggml's kernel skips closed tiles of those itself).
TEST(KvAttentionSplit, ShortLoneOddAndLateChunksStayWhole) {
  const core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, 4096, GGML_TYPE_F16);
  kv.set_regions(4);
  auto plan = [&](int32_t seq, int from, int n) {
    std::vector<int32_t> seqs(static_cast<size_t>(n), seq), pos;
    for (int i = 0; i < n; ++i) pos.push_back(from + i);
    kv.place(seqs, pos);
    const KvAttention attn(kv, seqs, pos, {.split_runs = true});
    return attn.layout().runs.at(0).half_rows;
  };
  EXPECT_EQ(plan(0, 0, 127), 0);
  EXPECT_EQ(plan(1, 0, 301), 0);
  EXPECT_EQ(plan(2, 0, 700), 350);
  EXPECT_EQ(plan(2, 700, 200), 0);  // positions 700-799 in the first half: the window is 1024 cells
  kv.seq_rm(1);
  EXPECT_EQ(plan(1, 0, 1022), 511);
  kv.seq_rm(1);
  EXPECT_EQ(plan(1, 0, 1024), 0);
}

// A decode step of sequences whose homes lie far apart (AttentionOptions::sparse_decode_max): a
// token per run over its own home; close together, or past the limit, streams as before.
TEST(KvAttentionSparse, DecodeStepsOfFarApartHomesAttendATokenPerRun) {
  const core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, 1024, GGML_TYPE_F16);
  kv.set_regions(16);
  for (int32_t s : {0, 1, 3, 12}) kv.place(std::vector<int32_t>(10, s), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto plan = [&](std::vector<int32_t> seqs, int max) {
    const std::vector<int32_t> pos(seqs.size(), 10);
    kv.place(seqs, pos);
    const KvAttention attn(kv, seqs, pos, {.sparse_decode_max = max});
    for (int32_t s : seqs) kv.seq_rm(s, 10);
    return attn.layout();
  };
  const AttentionLayout far = plan({0, 12}, 8);  // 13 regions for 2 tokens
  EXPECT_EQ(far.n_stream_tokens, 0);
  ASSERT_EQ(far.runs.size(), 2u);
  EXPECT_EQ(far.runs[0], (AttentionRun{0, 1, 0, 256, 0}));
  EXPECT_EQ(far.runs[1], (AttentionRun{1, 1, 12, 256, 256}));
  EXPECT_EQ(plan({0, 12}, 0).n_stream_tokens, 2);     // off
  EXPECT_EQ(plan({0, 12}, 1).n_stream_tokens, 2);     // over the limit
  EXPECT_EQ(plan({0, 1, 3}, 8).n_stream_tokens, 3);   // 4 regions for 3 tokens
  EXPECT_EQ(plan({0, 1, 12}, 8).n_stream_tokens, 0);  // 13 regions for 3 tokens
}

}  // namespace
}  // namespace rbees::model

namespace rbees::model {
namespace {

// Homes of one and of two regions in one pass: a batch of streams each, stream j of the two-region
// group over regions 2j and 2j + 1; the outputs follow one another, so every token is reordered.
TEST(KvAttentionSpans, DecodeTokensOfHomesOfTwoSizesFormOneGroupEach) {
  const core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, 64, GGML_TYPE_F16);
  kv.set_regions(4, 2);
  kv.set_home_span(2, 2);
  std::vector<int32_t> twos(20, 2), pos(20);
  for (int i = 0; i < 20; ++i) pos[i] = i;
  kv.place(twos, pos);  // cells 32 .. 51
  kv.place({0, 0, 0, 1, 1, 1, 1, 1}, {0, 1, 2, 0, 1, 2, 3, 4});
  const std::vector<int32_t> seqs{1, 2, 0}, positions{5, 20, 3};
  kv.place(seqs, positions);
  KvAttention attn(kv, seqs, positions, {});
  const AttentionLayout& l = attn.layout();
  EXPECT_TRUE(attn.all_streams());
  ASSERT_EQ(l.groups.size(), 2u);
  // 256-cell windows do not fit the 64 + 256 rows twice: the homes' own sizes.
  EXPECT_EQ(l.groups[0], (StreamGroup{1, 2, 16}));
  EXPECT_EQ(l.groups[1], (StreamGroup{2, 2, 32}));  // stream 0 (regions 0-1) a placeholder
  EXPECT_EQ(l.n_streams, 4);
  EXPECT_EQ(l.region_mask_values, 16 * 2 + 32 * 2);
  EXPECT_FALSE(l.streams_in_order);
  EXPECT_EQ(std::vector<int32_t>(attn.stream_rows().begin(), attn.stream_rows().end()),
            (std::vector<int32_t>{2, 0, 0, 1}));
  EXPECT_EQ(std::vector<int32_t>(attn.token_streams().begin(), attn.token_streams().end()),
            (std::vector<int32_t>{1, 3, 0}));
  std::vector<MaskValue> mask(static_cast<size_t>(l.region_mask_values));
  attn.fill_region_mask(mask.data());
  const auto m = as_floats(mask);
  auto open = [&](int from, int n) { return std::count(m.begin() + from, m.begin() + from + n, 0.0f); };
  EXPECT_EQ(open(0, 16), 4);    // sequence 0 at position 3
  EXPECT_EQ(open(16, 16), 6);   // sequence 1 at position 5
  EXPECT_EQ(open(32, 32), 0);   // the placeholder reads nothing
  EXPECT_EQ(open(64, 32), 21);  // sequence 2 at position 20, over regions 2 and 3
  for (int c = 0; c < 21; ++c) EXPECT_EQ(m[64 + c], 0.0f) << c;

  // Padded for decode buckets: 8 tokens, each group over every home of its size; the padding reads
  // the first token's stream, never a placeholder's (whose output is 0/0).
  attn.pad_streams(8, [](int) { return 4; });
  EXPECT_EQ(l.groups[0].n_streams, 4);
  EXPECT_EQ(l.groups[1].n_streams, 2);
  EXPECT_EQ(l.n_stream_tokens, 8);
  EXPECT_EQ(std::vector<int32_t>(attn.token_streams().begin(), attn.token_streams().end()),
            (std::vector<int32_t>{1, 5, 0, 1, 1, 1, 1, 1}));
}

// With stable_shapes, a group of several streams reads each whole home whatever its sequences hold
// (a graph shape that stays as they grow); one stream alone keeps the window its extent needs, since
// ggml's CUDA flash kernel stops early at the last open tile only across several streams.
TEST(KvAttentionSpans, WholeHomesWindowsCoverTheHomeWhereAGroupHasSeveralStreams) {
  const core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, 2048, GGML_TYPE_F16);
  kv.set_regions(4);
  kv.place({0, 0, 0, 1, 1}, {0, 1, 2, 0, 1});
  const std::vector<int32_t> seqs{0, 1}, positions{3, 2};
  kv.place(seqs, positions);
  EXPECT_EQ(KvAttention(kv, seqs, positions, {}).layout().groups[0].window, 256);
  const KvAttention whole(kv, seqs, positions, {.stable_shapes = true});
  EXPECT_EQ(whole.layout().groups[0], (StreamGroup{1, 2, 512}));
  EXPECT_EQ(whole.layout().region_mask_values, 2 * 512);
  std::vector<MaskValue> mask(2 * 512);
  whole.fill_region_mask(mask.data());
  const auto m = as_floats(mask);
  EXPECT_EQ(std::count(m.begin(), m.begin() + 512, 0.0f), 4);  // sequence 0 at position 3
  EXPECT_EQ(std::count(m.begin() + 512, m.end(), 0.0f), 3);    // sequence 1 at position 2
  const std::vector<int32_t> one{0}, one_pos{3};
  EXPECT_EQ(KvAttention(kv, one, one_pos, {.stable_shapes = true}).layout().groups[0].window, 256);
}

}  // namespace
}  // namespace rbees::model
