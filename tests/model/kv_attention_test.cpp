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
  EXPECT_EQ(l.run_mask_values, 3 * 256);
  EXPECT_EQ(l.n_general, 0);
  EXPECT_EQ(l.n_kv, 0);
  std::vector<MaskValue> run(3 * 256);
  attn.fill_run_masks(run.data());
  const auto r = as_floats(run);
  for (int t = 0; t < 3; ++t) {
    EXPECT_EQ(std::count(r.begin() + t * 256, r.begin() + (t + 1) * 256, 0.0f), t + 1) << "token " << t;
  }
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

}  // namespace
}  // namespace rbees::model
