#include "engine/kv_blocks.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "core/device.hpp"
#include "model/kv_cache.hpp"

namespace rbees::engine {
namespace {

constexpr int kB = 4;

class KvBlocksTest : public ::testing::Test {
 protected:
  core::Device device{core::cpu_device(), 1};
  model::KvCache kv{device, 1, 8, 8, 8 * kB, GGML_TYPE_F16};  // 8 blocks of 4 cells
  KvBlocks blocks{kv, kB};

  // What the model does in a forward pass: tag one cell per token.
  void place(int32_t seq, int from, int to) {
    std::vector<int32_t> seqs, pos;
    for (int p = from; p < to; ++p) {
      seqs.push_back(seq);
      pos.push_back(p);
    }
    kv.place(seqs, pos);
  }
  static std::vector<int32_t> iota(int n, int start) {
    std::vector<int32_t> v(n);
    std::iota(v.begin(), v.end(), start);
    return v;
  }
};

// Admission takes the blocks of the prompt and the first generated token; a sequence then grows a
// block at a time, and growth fails (changing nothing) when no block is left.
TEST_F(KvBlocksTest, ReservesThePromptAtAdmissionAndGrowsBlockByBlock) {
  ASSERT_EQ(blocks.admit(1, iota(5, 100), 13), 0);  // 6 tokens: 2 blocks, whatever max_total says
  EXPECT_EQ(blocks.n_available(), 6);
  EXPECT_FALSE(blocks.admit(2, iota(27, 100), 30).has_value());  // 28 tokens: 7 blocks
  EXPECT_EQ(blocks.n_available(), 6);
  ASSERT_EQ(blocks.admit(2, iota(15, 300), 16), 0);  // 16 tokens: 4 blocks
  EXPECT_EQ(blocks.n_available(), 2);
  EXPECT_TRUE(blocks.grow(1, 8));  // within its 2 blocks
  EXPECT_EQ(blocks.n_available(), 2);
  EXPECT_TRUE(blocks.grow(1, 13));  // 4 blocks
  EXPECT_EQ(blocks.n_available(), 0);
  EXPECT_DOUBLE_EQ(blocks.usage(), 1.0);
  EXPECT_FALSE(blocks.grow(1, 17));
  EXPECT_EQ(blocks.n_available(), 0);
  blocks.release(2);
  EXPECT_EQ(blocks.n_available(), 4);
  EXPECT_TRUE(blocks.grow(1, 17));
  EXPECT_EQ(blocks.n_available(), 3);
  EXPECT_THROW(blocks.grow(7, 4), std::invalid_argument);  // never admitted
}

TEST_F(KvBlocksTest, ReusesFullBlocksOfAFinishedSequence) {
  auto prompt = iota(10, 200);  // blocks [0,4) [4,8), then 2 tokens
  ASSERT_EQ(blocks.admit(1, prompt, 12), 0);
  place(1, 0, 10);
  blocks.computed(1, prompt, 10);
  EXPECT_EQ(blocks.n_cached(), 2);
  blocks.release(1);
  // The cached cells stay in the KV cache, held by their blocks; the sequence's own are gone.
  EXPECT_EQ(kv.used(), 8);
  EXPECT_EQ(kv.seq_pos_max(1), -1);

  auto longer = iota(11, 200);
  longer[10] = 7;
  ASSERT_EQ(blocks.admit(2, longer, 16), 8);
  EXPECT_EQ(blocks.hit_tokens_total(), 8u);
  EXPECT_EQ(kv.seq_cells(2).size(), 8u);
  EXPECT_EQ(kv.seq_pos_max(2), 7);

  // A prompt differing in the second block reuses only the first.
  auto other = iota(10, 200);
  other[5] = 1;
  ASSERT_EQ(blocks.admit(3, other, 12), 4);
  EXPECT_EQ(blocks.hit_tokens_total(), 12u);
}

// Dropping the unused cached blocks frees their cells and forgets their prefixes; blocks a live
// sequence still uses stay.
TEST_F(KvBlocksTest, DroppingUnusedCachedBlocksFreesTheirCellsAndKeepsTheUsedOnes) {
  auto prompt = iota(10, 200);
  ASSERT_EQ(blocks.admit(1, prompt, 12), 0);
  place(1, 0, 10);
  blocks.computed(1, prompt, 10);
  ASSERT_EQ(blocks.admit(2, prompt, 12), 8);  // shares both full blocks
  blocks.release(1);
  blocks.drop_unused_cached();
  EXPECT_EQ(blocks.n_cached(), 2);  // sequence 2 uses them
  blocks.release(2);
  blocks.drop_unused_cached();
  EXPECT_EQ(blocks.n_cached(), 0);
  EXPECT_EQ(kv.used(), 0);
  EXPECT_EQ(blocks.n_available(), blocks.n_blocks());
  ASSERT_EQ(blocks.admit(3, prompt, 12), 0);  // nothing left to reuse
}

TEST_F(KvBlocksTest, LeavesTheLastPromptTokenToCompute) {
  auto prompt = iota(8, 300);
  ASSERT_EQ(blocks.admit(1, prompt, 9), 0);
  place(1, 0, 8);
  blocks.computed(1, prompt, 8);
  blocks.release(1);
  ASSERT_EQ(blocks.admit(2, prompt, 9), 4);  // not 8: the last token's logits are needed
}

TEST_F(KvBlocksTest, SharesBlocksOfARunningSequence) {
  auto prompt = iota(9, 400);
  ASSERT_EQ(blocks.admit(1, prompt, 12), 0);
  place(1, 0, 9);
  blocks.computed(1, prompt, 9);
  const int used = kv.used();
  ASSERT_EQ(blocks.admit(2, prompt, 12), 8);
  EXPECT_EQ(kv.used(), used);  // shared cells, not copies
  EXPECT_EQ(kv.seq_cells(1).front(), kv.seq_cells(2).front());
  blocks.release(1);
  EXPECT_EQ(kv.seq_pos_max(2), 7);
}

TEST_F(KvBlocksTest, EvictsCachedBlocksWhenSpaceIsNeeded) {
  auto prompt = iota(17, 500);  // 4 full blocks
  ASSERT_EQ(blocks.admit(1, prompt, 20), 0);
  place(1, 0, 17);
  blocks.computed(1, prompt, 17);
  blocks.release(1);
  EXPECT_EQ(blocks.n_cached(), 4);
  EXPECT_EQ(blocks.n_available(), 8);
  // Needs 7 of 8 blocks: three cached blocks go, the children before their parents.
  auto fresh = iota(25, 9000);
  ASSERT_EQ(blocks.admit(2, fresh, 28), 0);
  EXPECT_EQ(blocks.n_cached(), 1);
  EXPECT_LE(kv.used(), 4);
  blocks.release(2);
  ASSERT_EQ(blocks.admit(3, prompt, 20), 4);  // the root block survived
}

// With home regions, a prefix cached in another sequence's region is copied into the new sequence's
// own region (its cells and copies named to the copy function), so it attends over its region alone;
// a prefix cached in its own region is shared in place.
TEST_F(KvBlocksTest, CopiesAPrefixCachedInAnotherRegionHome) {
  kv.set_regions(2);  // regions of 16 cells: [0,16) for sequence 0, [16,32) for sequence 1
  std::vector<std::pair<int32_t, int32_t>> copies;
  blocks.set_copy_cells([&](std::span<const int32_t> src, std::span<const int32_t> dst) {
    ASSERT_EQ(src.size(), dst.size());
    for (size_t i = 0; i < src.size(); ++i) copies.emplace_back(src[i], dst[i]);
  });
  auto prompt = iota(9, 600);  // two full blocks, then one token
  ASSERT_EQ(blocks.admit(0, prompt, 12), 0);
  place(0, 0, 9);
  blocks.computed(0, prompt, 9);
  blocks.release(0);
  EXPECT_EQ(blocks.prefix_home(prompt), 0);

  ASSERT_EQ(blocks.admit(1, prompt, 12), 8);
  ASSERT_EQ(copies.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_LT(copies[i].first, 16) << "copied from region 0";
    EXPECT_TRUE(kv.in_region(copies[i].second, 1)) << "into region 1";
  }
  EXPECT_EQ(kv.seq_cells(1), (std::vector<int32_t>{16, 17, 18, 19, 20, 21, 22, 23}));
  EXPECT_EQ(kv.home_extent(1), 8);
  EXPECT_EQ(blocks.copied_tokens_total(), 8u);
  EXPECT_EQ(blocks.hit_tokens_total(), 8u);
  // The copy is the sequence's own: computing on publishes nothing new (the cached blocks remain,
  // with the first sequence's last token, kept when it ended for a later prompt to copy).
  place(1, 8, 9);
  blocks.computed(1, prompt, 9);
  EXPECT_EQ(blocks.n_cached(), 3);
  blocks.release(1);

  // Admitted into region 0, where the prefix lies, it is shared: no copy.
  copies.clear();
  ASSERT_EQ(blocks.admit(0, prompt, 12), 8);
  EXPECT_TRUE(copies.empty());
  EXPECT_EQ(kv.seq_cells(0).front(), 0);
  EXPECT_EQ(blocks.copied_tokens_total(), 8u);
}

// A prompt's remainder shorter than a block that starts like a cached block after the shared ones
// is copied from that block's cells, up to the prompt's last token, which is computed.
TEST_F(KvBlocksTest, CopiesTheStartOfACachedBlockForAPromptsRemainder) {
  std::vector<std::pair<int32_t, int32_t>> copies;
  blocks.set_copy_cells([&](std::span<const int32_t> src, std::span<const int32_t> dst) {
    ASSERT_EQ(src.size(), dst.size());
    for (size_t i = 0; i < src.size(); ++i) copies.emplace_back(src[i], dst[i]);
  });
  auto prompt = iota(8, 300);  // two full blocks
  ASSERT_EQ(blocks.admit(1, prompt, 9), 0);
  place(1, 0, 8);
  blocks.computed(1, prompt, 8);
  const std::vector<int32_t> cells = kv.seq_cells(1);
  blocks.release(1);
  ASSERT_EQ(blocks.n_cached(), 2);

  // The same prompt: block 0 shared, then 3 of block 1's 4 tokens copied (the 4th is computed).
  ASSERT_EQ(blocks.admit(2, prompt, 9), 7);
  ASSERT_EQ(copies.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(copies[i].first, cells[static_cast<size_t>(4 + i)]);
  EXPECT_EQ(kv.seq_cells(2).size(), 7u);
  EXPECT_EQ(kv.seq_pos_max(2), 6);
  EXPECT_EQ(kv.seq_cells(2).front(), cells.front());  // shared, not copied
  EXPECT_EQ(blocks.copied_tokens_total(), 3u);
  EXPECT_EQ(blocks.hit_tokens_total(), 7u);
  // Computing the last token fills the sequence's own block 1; the cached one stays the published.
  place(2, 7, 8);
  blocks.computed(2, prompt, 8);
  EXPECT_EQ(blocks.n_cached(), 2);
  blocks.release(2);
  EXPECT_EQ(kv.used(), 8);  // the cached blocks' cells alone

  // Parting inside block 1 copies up to the parting; a prompt shorter than a block copies from block 0.
  auto parted = prompt;
  parted[6] = 1;
  copies.clear();
  ASSERT_EQ(blocks.admit(3, parted, 9), 6);
  EXPECT_EQ(copies.size(), 2u);
  blocks.release(3);
  copies.clear();
  ASSERT_EQ(blocks.admit(4, iota(3, 300), 9), 2);
  EXPECT_EQ(copies.size(), 2u);
  blocks.release(4);
  // Nothing like it cached: nothing copied. One token alike (as the BOS of distinct prompts) with
  // more of the prompt to compute is not worth a copy pass.
  copies.clear();
  ASSERT_EQ(blocks.admit(5, iota(3, 900), 9), 0);
  blocks.release(5);
  ASSERT_EQ(blocks.admit(6, std::vector<int32_t>{300, 9, 8, 7, 6, 5}, 9), 0);
  EXPECT_TRUE(copies.empty());
  EXPECT_EQ(blocks.hit_tokens_total(), 15u);
}

}  // namespace
}  // namespace rbees::engine
