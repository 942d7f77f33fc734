#pragma once
// Paged accounting of the model's KV cache and the prefix cache built on it.
//
// The cache's cells are counted in fixed-size blocks: block k of a sequence holds its positions
// [k*B, (k+1)*B). A sequence reserves, when admitted, the blocks of its prompt and first token, and
// one more block whenever it fills the last (grow(); when none is left the scheduler preempts a
// sequence). The model's cache places each sequence's tokens in blocks of the same size
// (KvCache::set_block_size, set here), so a block counted here is a block of contiguous cells there
// (only where no whole block is free does a token take any free cell), and the block count bounds
// how many cells are in use.
//
// Full blocks become shareable once their keys and values are computed: the block is published
// under a hash of its tokens chained with the hash of the block before it, and the block holds its
// cells in the KV cache (KvCache::hold: they stay in use after the sequence ends). A new sequence
// whose prompt starts with published blocks maps its positions to their cells (KvCache::share, no
// copy) instead of computing them. A
// published block that no sequence uses any more stays cached until its space is needed (least
// recently used first; a parent block is always used more recently than its children).
//
// A prompt's remainder after its shared blocks, shorter than a block, may start like a cached block
// that follows them: those keys and values are copied into the sequence's own cells (a block is
// shared whole or not at all, since the sequence writes its next tokens into it), so that a prompt
// that repeats an earlier one computes only its last token, whatever its length. (Only where the
// copy leaves just that token or covers half a block: a copy is a pass of its own.) For that a
// sequence's last block, computed only in part, stays cached too when the sequence ends (where a
// copy function is set: such a block can only be copied from).

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/kv_budget.hpp"
#include "model/kv_cache.hpp"

namespace rbees::engine {

class KvBlocks : public KvBudget {
 public:
  // Uses kv.size() / block_size blocks.
  KvBlocks(model::KvCache& kv, int block_size);

  int block_size() const { return block_size_; }
  int n_blocks() const { return n_blocks_; }
  // Tokens a sequence may hold at most: every block.
  int capacity_tokens() const { return n_blocks_ * block_size_; }
  // Blocks a new sequence could still reserve (free ones plus cached ones nobody uses).
  int n_available() const { return n_blocks_ - n_alloc_ - n_reserved_ + static_cast<int>(evictable_.size()); }
  // Blocks in use by live sequences or promised to them, over all blocks.
  double usage() const;
  int n_cached() const { return static_cast<int>(by_hash_.size()); }

  // Admits `seq` for a prompt and at most `max_total` tokens in all (prompt plus generated): reuses
  // the longest run of published full blocks that starts the prompt and the longest start of a
  // cached block after them (leaving at least one prompt token to compute, for its logits) and
  // reserves the rest. Returns the number of reused tokens, or nullopt (nothing changed) when there
  // is not enough space.
  // A reused block whose cells lie outside the sequence's home region is copied into the region
  // (by `copy_cells`, when set) rather than shared, so the sequence attends over its region alone.
  // The sequence's home spans `span` regions from its own (KvCache::set_home_span) until release().
  std::optional<int> admit(int32_t seq, std::span<const int32_t> prompt, int max_total, bool reuse_prefix = true,
                           int span = 1) override;
  // The regions that hold max_total tokens, at most the cache's max_span().
  int home_span_for(int max_total) const override;
  // Copies the keys and values of cells src[i] to cells dst[i] (the model does it on the device).
  using CopyCells = std::function<void(std::span<const int32_t> src, std::span<const int32_t> dst)>;
  void set_copy_cells(CopyCells copy) { copy_cells_ = std::move(copy); }
  // The home region holding the first cached block of the prompt, or -1: admitting the sequence
  // there shares the cached prefix where it lies instead of copying it.
  int32_t prefix_home(std::span<const int32_t> prompt) const override;
  bool next_at_home(int32_t seq) const override { return kv_.home_extent(seq) >= 0 && kv_.home_has_room(seq); }
  // Makes room for `seq` to hold n_tokens tokens in all: false (nothing changed) when there are not
  // enough blocks, even after evicting cached ones nobody uses.
  bool grow(int32_t seq, int n_tokens) override;
  // Blocks admission leaves free for the running sequences' next tokens: 1% of the cache.
  int watermark() const { return n_blocks_ / 100; }

  // Records that `seq` now holds keys and values for its first n_computed tokens (`tokens` holds at
  // least that many) and publishes the blocks that became full.
  void computed(int32_t seq, std::span<const int32_t> tokens, int n_computed);

  // Frees the sequence's cells and reservation; its published blocks stay cached, and its last
  // block's computed part (see above).
  void release(int32_t seq) override;

  // Evicts every cached block no sequence uses (their cells become free).
  void drop_unused_cached();

  // Tokens reused from the prefix cache since creation.
  uint64_t hit_tokens_total() const { return hit_tokens_total_; }
  // Of which were copied into the sequence's home region.
  uint64_t copied_tokens_total() const { return copied_tokens_total_; }

 private:
  struct Block {
    int refs = 0;         // live sequences whose table holds it
    bool cached = false;  // published under `hash`
    uint64_t hash = 0;
    uint64_t parent_hash = 0;
    std::vector<int32_t> cells;  // while cached: the cells it holds, in position order
    int32_t first_pos = 0;
    std::vector<int32_t> tokens;
    uint64_t stamp = 0;  // when it last became unused (for LRU eviction)
  };
  struct SeqState {
    std::vector<int> table;        // block ids, in position order
    int reserved = 0;              // blocks promised but not yet in the table
    int n_published = 0;           // leading table entries already checked for publication
    uint64_t last_hash = 0;        // chain hash after n_published blocks
    std::vector<int32_t> partial;  // the tokens computed into the block after those, when not full
  };

  int blocks_for(int tokens) const { return (tokens + block_size_ - 1) / block_size_; }
  int new_block();
  void evict_one();
  void evict(int id);
  void make_home_room(int32_t seq, int tokens);
  void unref(int id);
  static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens);
  std::optional<int> find_cached(uint64_t parent, std::span<const int32_t> tokens) const;
  // Copies the keys and values of the longest start (up to `limit` tokens) of a cached block after
  // `parent` that `tokens` begins with into new cells of `seq` at positions from `first_pos`; returns
  // the tokens copied.
  int copy_block_start(int32_t seq, uint64_t parent, std::span<const int32_t> tokens, int first_pos, int limit);

  model::KvCache& kv_;
  int block_size_;
  int n_blocks_;
  std::vector<Block> blocks_;
  std::vector<int> free_;                         // ids of blocks holding nothing
  std::set<std::pair<uint64_t, int>> evictable_;  // (stamp, id): cached, refs == 0
  std::unordered_multimap<uint64_t, int> by_hash_;
  std::unordered_multimap<uint64_t, int> by_parent_;  // published blocks by their parent's hash
  std::unordered_map<int32_t, SeqState> seqs_;
  int n_alloc_ = 0;     // blocks not in free_
  int n_reserved_ = 0;  // sum of SeqState::reserved
  uint64_t clock_ = 0;
  uint64_t hit_tokens_total_ = 0;
  uint64_t copied_tokens_total_ = 0;
  CopyCells copy_cells_;
};

}  // namespace rbees::engine
