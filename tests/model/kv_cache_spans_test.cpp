// Homes spanning several regions (KvCache::set_home_span): a sequence whose home is regions
// r .. r + n - 1 places its tokens there and counts as at home while they all are; the regions it
// covers are nobody else's home until it gives them back.
#include <gtest/gtest.h>

#include <numeric>
#include <stdexcept>
#include <vector>

#include "core/device.hpp"
#include "model/kv_cache.hpp"

namespace rbees::model {
namespace {

class KvCacheSpans : public ::testing::Test {
 protected:
  // 64 cells in blocks of 4, 4 regions of 16, homes of up to 2 regions.
  KvCacheSpans() : kv_(cpu_, 1, 4, 4, 64, GGML_TYPE_F32) {
    kv_.set_block_size(4);
    kv_.set_regions(4, 2);
  }
  std::vector<int32_t> place_run(int32_t seq, int32_t from, int n) {
    std::vector<int32_t> seqs(static_cast<size_t>(n), seq), pos(static_cast<size_t>(n));
    std::iota(pos.begin(), pos.end(), from);
    return kv_.place(seqs, pos);
  }
  core::Device cpu_{core::find_device("cpu"), 1};
  KvCache kv_;
};

TEST_F(KvCacheSpans, ASequenceFillsItsTwoRegionHomeBeforeAnyOtherCell) {
  EXPECT_EQ(kv_.region_size(), 16);
  EXPECT_EQ(kv_.max_span(), 2);
  kv_.set_home_span(2, 2);
  EXPECT_EQ(kv_.home_span(2), 2);
  EXPECT_EQ(kv_.home_span(3), 0) << "region 3 is covered: nobody's home";
  // 30 tokens: all in regions 2 and 3 (cells 32 .. 61), in position order.
  const auto cells = place_run(2, 0, 30);
  std::vector<int32_t> want(30);
  std::iota(want.begin(), want.end(), 32);
  EXPECT_EQ(cells, want);
  EXPECT_EQ(kv_.home_extent(2), 30);
  EXPECT_TRUE(kv_.in_region(60, 2));
  EXPECT_FALSE(kv_.in_region(31, 2));
  EXPECT_EQ(kv_.region_free(2), 2);
  EXPECT_TRUE(kv_.home_has_room(2));
  place_run(2, 30, 2);
  EXPECT_FALSE(kv_.home_has_room(2));
  // The 33rd token leaves the home: the sequence is no longer at home.
  const auto out = place_run(2, 32, 1);
  EXPECT_LT(out[0], 32);
  EXPECT_EQ(kv_.home_extent(2), -1);
  // Freed cells in region 3 count as free again in sequence 2's home.
  kv_.seq_rm(2, 32, -1);
  kv_.seq_rm(2, 28, 32);
  EXPECT_EQ(kv_.home_extent(2), 28);
  EXPECT_TRUE(kv_.home_has_room(2));
  EXPECT_EQ(place_run(2, 28, 1), (std::vector<int32_t>{60}));
}

TEST_F(KvCacheSpans, SpansStartAtAMultipleOfTheirLengthAndTakeOnlyRegionsNobodyUses) {
  EXPECT_THROW(kv_.set_home_span(1, 2), std::logic_error) << "not from a multiple of 2";
  EXPECT_THROW(kv_.set_home_span(0, 3), std::logic_error) << "more than max_span";
  EXPECT_THROW(kv_.set_home_span(3, 2), std::logic_error) << "past the last region";
  place_run(1, 0, 3);
  EXPECT_THROW(kv_.set_home_span(0, 2), std::logic_error) << "sequence 1 holds cells at its home";
  kv_.seq_rm(1);
  kv_.set_home_span(0, 2);
  EXPECT_THROW(kv_.set_home_span(1, 1), std::logic_error) << "region 1 is covered";
  // Given back, region 1 is sequence 1's home again.
  kv_.set_home_span(0, 1);
  EXPECT_EQ(kv_.home_span(1), 1);
  EXPECT_EQ(place_run(1, 0, 2), (std::vector<int32_t>{16, 17}));
  EXPECT_EQ(kv_.home_extent(1), 2);
}

TEST_F(KvCacheSpans, WindowsAndMasksOfTwoRegionHomes) {
  kv_.set_home_span(2, 2);
  place_run(2, 0, 20);  // cells 32 .. 51
  // Two streams of homes of two regions: a window is a multiple of 256 cells only where both fit
  // in the storage's 64 + 256 rows.
  EXPECT_EQ(kv_.region_window(20, 2, 2), 32) << "256-cell windows do not fit twice: the home's 32 cells";
  // Stream 1 of that group is the home from region 2; stream 0 a placeholder.
  std::vector<MaskValue> mask(2 * 32);
  kv_.fill_region_mask(mask.data(), 32, std::vector<int32_t>{-1, 2}, std::vector<int32_t>{0, 19});
  for (int c = 0; c < 32; ++c) EXPECT_EQ(mask[c], kMaskClosed) << "the placeholder reads nothing: " << c;
  for (int c = 0; c < 32; ++c) EXPECT_EQ(mask[32 + c], c < 20 ? kMaskOpen : kMaskClosed) << c;
  // The same home as stream 0 of a group from region 2 (KvAttention's groups start at their lowest
  // home), for a token at position 9: the cells are walked (not one fill of the extent), offsets
  // counted from the home, not from the stream's place in its group.
  kv_.fill_region_mask(mask.data(), 32, std::vector<int32_t>{2}, std::vector<int32_t>{9});
  for (int c = 0; c < 32; ++c) EXPECT_EQ(mask[c], c < 10 ? kMaskOpen : kMaskClosed) << c;
}

}  // namespace
}  // namespace rbees::model
