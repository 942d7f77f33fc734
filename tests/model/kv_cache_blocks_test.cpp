// The KV cache's block placement: each sequence's positions [k*B, (k+1)*B) in one block of B
// contiguous cells of its own, shared blocks never written by a sequence that does not own them.
#include <gtest/gtest.h>

#include <vector>

#include "core/device.hpp"
#include "model/kv_cache.hpp"

namespace rbees::model {
namespace {

class KvCacheBlocks : public ::testing::Test {
 protected:
  core::Device cpu_{core::find_device("cpu"), 1};
};

TEST_F(KvCacheBlocks, InterleavedSequencesEachFillBlocksOfTheirOwn) {
  KvCache kv(cpu_, 1, 4, 4, 32, GGML_TYPE_F32);
  kv.set_block_size(4);
  // Cell by cell they would interleave (0, 1, 2, ...); in blocks each keeps its own run of four.
  const auto cells = kv.place({0, 1, 0, 1, 0, 1, 0, 1, 0}, {0, 0, 1, 1, 2, 2, 3, 3, 4});
  EXPECT_EQ(cells, (std::vector<int32_t>{0, 4, 1, 5, 2, 6, 3, 7, 8}));
  EXPECT_EQ(kv.seq_cells(0), (std::vector<int32_t>{0, 1, 2, 3, 8}));
  EXPECT_EQ(kv.seq_block(0, 4), 2);
  EXPECT_EQ(kv.seq_block(1, 3), 1);
  EXPECT_EQ(kv.seq_block(1, 4), -1);
  // The next position of sequence 1 opens a block after every one in use, not cell 9.
  EXPECT_EQ(kv.place({1}, {4}), (std::vector<int32_t>{12}));
  EXPECT_EQ(kv.place({0}, {5}), (std::vector<int32_t>{9}));
}

TEST_F(KvCacheBlocks, AFreedBlockIsTakenWholeAgain) {
  KvCache kv(cpu_, 1, 4, 4, 16, GGML_TYPE_F32);
  kv.set_block_size(4);
  kv.place({0, 0, 0, 0, 0, 0}, {0, 1, 2, 3, 4, 5});  // blocks 0 and 1
  kv.place({1, 1}, {0, 1});                          // block 2
  kv.seq_rm(0, 4, -1);                               // block 1 free again
  EXPECT_EQ(kv.seq_block(0, 4), -1);
  EXPECT_EQ(kv.place({2}, {0}), (std::vector<int32_t>{4}));
  // Sequence 0's next block is not sequence 2's, though it has free cells.
  EXPECT_EQ(kv.place({0}, {4}), (std::vector<int32_t>{12}));
}

TEST_F(KvCacheBlocks, ASharedBlockIsReadNotWrittenByTheSequencesSharingIt) {
  KvCache kv(cpu_, 1, 4, 4, 16, GGML_TYPE_F32);
  kv.set_block_size(4);
  kv.place({0, 0}, {0, 1});  // block 0, half full
  kv.seq_cp(0, 1);           // sequence 1 shares cells 0 and 1
  EXPECT_EQ(kv.seq_cells(1), (std::vector<int32_t>{0, 1}));
  // Sequence 1 writes its position 2 into a block of its own; sequence 0 goes on in block 0.
  EXPECT_EQ(kv.place({1, 0}, {2, 2}), (std::vector<int32_t>{6, 2}));
  EXPECT_EQ(kv.seq_cells(1), (std::vector<int32_t>{0, 1, 6}));

  // A full block shared at its own offsets enters the table of the sequence sharing it.
  kv.place({0}, {3});
  kv.hold(kv.seq_cells(0, 0, 4));
  kv.seq_rm(0);
  kv.share(std::vector<int32_t>{0, 1, 2, 3}, 3, 0);
  EXPECT_EQ(kv.seq_block(3, 2), 0);
  EXPECT_EQ(kv.place({3}, {4}), (std::vector<int32_t>{8}));
}

TEST_F(KvCacheBlocks, WithNoWholeBlockFreeATokenTakesAnyFreeCell) {
  KvCache kv(cpu_, 1, 4, 4, 8, GGML_TYPE_F32);
  kv.set_block_size(4);
  kv.place({0}, {0});  // block 0
  kv.place({1}, {0});  // block 1
  // Three more tokens of a third sequence: no block is free, the free cells still hold them.
  const auto cells = kv.place({2, 2, 2}, {0, 1, 2});
  EXPECT_EQ(cells, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(kv.n_free(), 3);
}

TEST_F(KvCacheBlocks, HomeRegionsAreWholeBlocksAndASequenceFillsItsOwnFirst) {
  KvCache kv(cpu_, 1, 4, 4, 30, GGML_TYPE_F32);
  kv.set_block_size(4);
  kv.set_regions(3);  // 10 cells each, cut to 8: two blocks; cells 24..29 belong to no region
  EXPECT_EQ(kv.region_size(), 8);
  const auto cells = kv.place({1, 1, 1, 1, 1}, {0, 1, 2, 3, 4});
  EXPECT_EQ(cells, (std::vector<int32_t>{8, 9, 10, 11, 12}));
  EXPECT_EQ(kv.home_extent(1), 5);
  // Past its two blocks it takes the first free block anywhere (region 0's), and no longer
  // attends at home.
  kv.place({1, 1, 1}, {5, 6, 7});
  EXPECT_EQ(kv.place({1}, {8}), (std::vector<int32_t>{0}));
  EXPECT_EQ(kv.home_extent(1), -1);
}

TEST_F(KvCacheBlocks, SettingTheBlockSizeIsRefusedOnceCellsAreInUse) {
  KvCache kv(cpu_, 1, 4, 4, 8, GGML_TYPE_F32);
  EXPECT_THROW(kv.set_block_size(0), std::invalid_argument);
  EXPECT_THROW(kv.set_block_size(9), std::invalid_argument);
  kv.place({0}, {0});
  EXPECT_THROW(kv.set_block_size(4), std::logic_error);
}

}  // namespace
}  // namespace rbees::model
