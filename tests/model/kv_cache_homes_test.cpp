// The KV cache's per-region bookkeeping (home_extent, home-first placement) against a plain model of
// the cells under a long random run of places, removals, copies and releases.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

constexpr int kCells = 64;
constexpr int kRegions = 4;
constexpr int kSeqs = 6;  // sequences 4 and 5 have no home region

// What the cache should hold: seq -> pos -> cell.
using Tags = std::map<int32_t, std::map<int32_t, int32_t>>;

std::set<int32_t> used_cells(const Tags& tags) {
  std::set<int32_t> used;
  for (const auto& [seq, cells] : tags) {
    for (const auto& [pos, cell] : cells) used.insert(cell);
  }
  return used;
}

// home_extent as its contract states it, from the tags alone.
int expected_extent(const Tags& tags, int32_t seq) {
  if (seq >= kRegions) return -1;
  const int r_size = kCells / kRegions;
  auto it = tags.find(seq);
  if (it == tags.end()) return 0;
  int extent = 0;
  for (const auto& [pos, cell] : it->second) {
    if (cell < seq * r_size || cell >= (seq + 1) * r_size) return -1;
    extent = std::max(extent, cell - seq * r_size + 1);
  }
  return extent;
}

// The cell one new token of `seq` takes: the first free one of its region, else the first free one.
int32_t expected_cell(const std::set<int32_t>& used, int32_t seq) {
  const int r_size = kCells / kRegions;
  if (seq < kRegions) {
    for (int32_t c = seq * r_size; c < (seq + 1) * r_size; ++c) {
      if (used.count(c) == 0) return c;
    }
  }
  for (int32_t c = 0; c < kCells; ++c) {
    if (used.count(c) == 0) return c;
  }
  return -1;
}

// A long random run of places, removals, copies and released places over the cache's sequences,
// checked after every step against `tags`, what the cache should hold. `expect` checks each cell
// place() chose for (seq, pos) given the cells in use before.
struct RandomRun {
  int placed = 0, removed = 0, copied = 0;
};
using PlaceCheck = std::function<void(int32_t seq, int32_t pos, int32_t cell, const std::set<int32_t>& used)>;

void random_run(KvCache& kv, Tags& tags, RandomRun& counts, const PlaceCheck& expect) {
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  for (int step = 0; step < 4000; ++step) {
    const int32_t seq = pick(kSeqs);
    const int what = pick(10);
    if (what < 6 && kv.n_free() > 0) {
      // Append one token at the sequence's next position.
      const int32_t pos = tags.count(seq) != 0 && !tags[seq].empty() ? tags[seq].rbegin()->first + 1 : 0;
      const std::set<int32_t> used = used_cells(tags);
      const std::vector<int32_t> cell = kv.place({seq}, {pos});
      ASSERT_EQ(cell.size(), 1u);
      expect(seq, pos, cell[0], used);
      if (::testing::Test::HasFatalFailure()) return;
      tags[seq][pos] = cell[0];
      ++counts.placed;
    } else if (what < 8) {
      // Remove a random range of positions.
      const int32_t p0 = pick(24), p1 = p0 + 1 + pick(24);
      kv.seq_rm(seq, p0, p1);
      if (tags.count(seq) != 0) {
        auto& m = tags[seq];
        for (auto it = m.lower_bound(p0); it != m.end() && it->first < p1;) it = m.erase(it);
        if (m.empty()) tags.erase(seq);
      }
      ++counts.removed;
    } else if (what < 9) {
      // Share another sequence's cells (a prefix-cache hit), replacing what seq held there.
      const int32_t src = pick(kSeqs);
      const int32_t p1 = pick(32);
      kv.seq_cp(src, seq, 0, p1);
      if (src != seq && tags.count(src) != 0) {
        for (const auto& [pos, cell] : tags[src]) {
          if (pos < p1) tags[seq][pos] = cell;
        }
        if (tags[seq].empty()) tags.erase(seq);
      }
      ++counts.copied;
    } else if (kv.n_free() >= 2) {
      // A failed pass: two cells placed, then released.
      const int32_t pos = 1000 + step;
      const auto cells = kv.place({seq, seq}, {pos, pos + 1});
      kv.release(cells, {seq, seq});
    }
    for (int32_t s = 0; s < kSeqs; ++s) {
      ASSERT_EQ(kv.home_extent(s), expected_extent(tags, s)) << "sequence " << s << " after step " << step;
    }
    ASSERT_EQ(kv.used(), static_cast<int>(used_cells(tags).size())) << "step " << step;
  }
}

TEST(KvCacheHomes, ExtentsAndPlacementFollowEveryChangeToTheCells) {
  core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, kCells, GGML_TYPE_F32);
  kv.set_regions(kRegions);
  Tags tags;
  RandomRun counts;
  random_run(kv, tags, counts, [](int32_t seq, int32_t, int32_t cell, const std::set<int32_t>& used) {
    ASSERT_EQ(cell, expected_cell(used, seq));
  });
  const auto& [placed, removed, copied] = counts;
  EXPECT_GT(placed, 500);
  EXPECT_GT(removed, 300);
  EXPECT_GT(copied, 100);

  // Regions set anew over cells already in use recount from the cells.
  kv.set_regions(2);
  for (int32_t s = 0; s < 2; ++s) {
    const int r_size = kCells / 2;
    int want = 0;
    for (int32_t cell : kv.seq_cells(s)) {
      if (cell < s * r_size || cell >= (s + 1) * r_size) {
        want = -1;
        break;
      }
      want = std::max(want, cell - s * r_size + 1);
    }
    EXPECT_EQ(kv.home_extent(s), want) << "sequence " << s;
  }
  kv.clear();
  for (int32_t s = 0; s < 2; ++s) EXPECT_EQ(kv.home_extent(s), 0);
  EXPECT_EQ(kv.place({1}, {0}), std::vector<int32_t>{kCells / 2});
}

// With blocks of 4 cells the same run keeps the extents and the count of cells in use, and a token
// lands at its offset in a block (cell % 4 == pos % 4) wherever a block could take it: its home
// region has a free block, or (home full, or no home) a free block is left anywhere.
TEST(KvCacheHomes, BlockPlacementKeepsTheBookkeepingAndPutsTokensAtTheirBlockOffsets) {
  constexpr int B = 4;
  core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, kCells, GGML_TYPE_F32);
  kv.set_block_size(B);
  kv.set_regions(kRegions);
  Tags tags;
  RandomRun counts;
  int aligned_checked = 0;
  random_run(kv, tags, counts, [&](int32_t seq, int32_t pos, int32_t cell, const std::set<int32_t>& used) {
    const int r_size = kCells / kRegions;
    auto block_free = [&](int b) {
      for (int c = b * B; c < (b + 1) * B; ++c) {
        if (used.count(c) != 0) return false;
      }
      return true;
    };
    bool home_block = false, home_cell = false, any_block = false;
    for (int b = 0; b < kCells / B; ++b) any_block = any_block || block_free(b);
    if (seq < kRegions) {
      for (int b = seq * r_size / B; b < (seq + 1) * r_size / B; ++b) home_block = home_block || block_free(b);
      for (int c = seq * r_size; c < (seq + 1) * r_size; ++c) home_cell = home_cell || used.count(c) == 0;
    }
    ASSERT_EQ(used.count(cell), 0u) << "a cell in use was placed again";
    if (home_block || (!home_cell && any_block)) {
      ++aligned_checked;
      ASSERT_EQ(cell % B, pos % B) << "sequence " << seq << " position " << pos;
    }
    // A sequence all at home stays there while its region has room.
    if (home_cell && expected_extent(tags, seq) >= 0) {
      ASSERT_TRUE(kv.in_region(cell, seq)) << "sequence " << seq << " left a home with room";
    }
  });
  EXPECT_GT(counts.placed, 500);
  EXPECT_GT(aligned_checked, 100);
}

}  // namespace
}  // namespace rbees::model::testing
