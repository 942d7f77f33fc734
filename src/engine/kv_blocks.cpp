#include "engine/kv_blocks.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace rbees::engine {

KvBlocks::KvBlocks(model::KvCache& kv, int block_size)
    : kv_(kv), block_size_(block_size), n_blocks_(kv.size() / block_size) {
  if (block_size <= 0) throw std::invalid_argument("KV block size must be positive");
  if (n_blocks_ <= 0) {
    throw std::invalid_argument("KV cache of " + std::to_string(kv.size()) + " cells holds no block of " +
                                std::to_string(block_size));
  }
  // The cache places each sequence's tokens in blocks of the same size: a block counted here is a
  // block of contiguous cells there.
  kv_.set_block_size(block_size);
  blocks_.resize(n_blocks_);
  free_.reserve(n_blocks_);
  for (int i = n_blocks_ - 1; i >= 0; --i) free_.push_back(i);
}

double KvBlocks::usage() const {
  const int busy = n_alloc_ - static_cast<int>(evictable_.size()) + n_reserved_;
  return static_cast<double>(busy) / n_blocks_;
}

// FNV-1a over the parent hash and the token ids: cheap and stable; matches are verified against the
// stored tokens, so a collision can only cost a missed reuse, never a wrong one.
uint64_t KvBlocks::chain_hash(uint64_t parent, std::span<const int32_t> tokens) {
  uint64_t h = 1469598103934665603ull ^ parent;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix(parent);
  for (int32_t t : tokens) mix(static_cast<uint32_t>(t));
  return h;
}

std::optional<int> KvBlocks::find_cached(uint64_t parent, std::span<const int32_t> tokens) const {
  const uint64_t h = chain_hash(parent, tokens);
  auto [lo, hi] = by_hash_.equal_range(h);
  for (auto it = lo; it != hi; ++it) {
    const Block& b = blocks_[it->second];
    if (b.parent_hash == parent && std::equal(b.tokens.begin(), b.tokens.end(), tokens.begin(), tokens.end())) {
      return it->second;
    }
  }
  return std::nullopt;
}

int KvBlocks::home_span_for(int max_total) const {
  if (kv_.n_regions() <= 1 || kv_.region_size() <= 0) return 1;
  const int regions = 1 + (std::max(1, max_total) - 1) / kv_.region_size();  // no overflow near INT_MAX
  return std::clamp(regions, 1, kv_.max_span());
}

std::optional<int> KvBlocks::admit(int32_t seq, std::span<const int32_t> prompt, int max_total, bool reuse_prefix,
                                   int span) {
  if (seqs_.count(seq) != 0) throw std::invalid_argument("sequence " + std::to_string(seq) + " already admitted");
  const int B = block_size_;
  // Blocks for the prompt and the first generated token; later tokens take blocks as they come
  // (grow()), so that a request's max_tokens reserves nothing it may never use.
  const int total_blocks = blocks_for(static_cast<int>(prompt.size()) + 1);
  if (total_blocks > n_blocks_) return std::nullopt;

  // The longest cached run of full blocks that starts the prompt, keeping its last token to compute.
  std::vector<int> matched;
  std::vector<uint64_t> hashes;
  uint64_t parent = 0;
  const int reusable = prompt.empty() || !reuse_prefix ? 0 : (static_cast<int>(prompt.size()) - 1) / B;
  for (int k = 0; k < reusable; ++k) {
    auto toks = prompt.subspan(static_cast<size_t>(k) * B, B);
    auto id = find_cached(parent, toks);
    if (!id) break;
    matched.push_back(*id);
    parent = blocks_[*id].hash;
  }

  const int need = total_blocks - static_cast<int>(matched.size());
  int matched_idle = 0;
  for (int id : matched) matched_idle += blocks_[id].refs == 0 ? 1 : 0;
  // A watermark of free blocks is kept for the running sequences' next tokens, so that admitting one
  // more does not at once preempt another.
  if (need > n_available() - matched_idle - watermark()) return std::nullopt;

  if (seq < kv_.n_regions()) kv_.set_home_span(seq, span);
  // Pinned while the sequence is placed, so that making room cannot evict them.
  for (int id : matched) {
    Block& b = blocks_[id];
    if (b.refs++ == 0) evictable_.erase({b.stamp, id});
  }
  const int reused = static_cast<int>(matched.size()) * B;
  const int longest = std::max<int>(max_total, static_cast<int>(prompt.size()));
  // Blocks held elsewhere are copied home when the sequence has a home region and the copy is
  // possible: its own blocks then hold every token, so it needs its whole reservation.
  bool copy = false;
  if (copy_cells_ && seq < kv_.n_regions()) {
    for (int id : matched) {
      for (int32_t cell : blocks_[id].cells) copy = copy || !kv_.in_region(cell, seq);
    }
  }
  if (copy && total_blocks > n_available()) copy = false;  // the pinned blocks are not available
  const int reserve = copy ? total_blocks : need;
  while (n_blocks_ - n_alloc_ - n_reserved_ < reserve) evict_one();
  make_home_room(seq, copy ? longest : longest - reused);
  if (copy && kv_.region_free(seq) < longest) copy = false;

  SeqState st;
  st.reserved = reserve;
  n_reserved_ += reserve;
  if (copy) {
    std::vector<int32_t> src;
    std::vector<int32_t> positions(static_cast<size_t>(reused));
    for (int id : matched) src.insert(src.end(), blocks_[id].cells.begin(), blocks_[id].cells.end());
    for (int i = 0; i < reused; ++i) positions[static_cast<size_t>(i)] = i;
    const std::vector<int32_t> dst = kv_.place(std::vector<int32_t>(static_cast<size_t>(reused), seq), positions);
    try {
      copy_cells_(src, dst);
    } catch (...) {
      kv_.release(dst, std::vector<int32_t>(static_cast<size_t>(reused), seq));
      n_reserved_ -= reserve;
      for (int id : matched) unref(id);
      if (seq < kv_.n_regions()) kv_.set_home_span(seq, 1);
      throw;
    }
    // The cached blocks become evictable again, as recently used.
    for (int id : matched) unref(id);
    copied_tokens_total_ += static_cast<uint64_t>(reused);
  } else {
    st.table = matched;
    st.n_published = static_cast<int>(matched.size());
    st.last_hash = parent;
    for (int id : matched) kv_.share(blocks_[id].cells, seq, blocks_[id].first_pos);
  }
  int tail = 0;
  if (reuse_prefix && copy_cells_ && !prompt.empty()) {
    const int limit = std::min(B, static_cast<int>(prompt.size()) - 1 - reused);
    try {
      tail = copy_block_start(seq, parent, prompt.subspan(static_cast<size_t>(reused)), reused, limit);
    } catch (...) {
      if (!copy) {
        for (int id : matched) unref(id);
      }
      kv_.seq_rm(seq);
      if (seq < kv_.n_regions()) kv_.set_home_span(seq, 1);
      n_reserved_ -= reserve;
      throw;
    }
  }
  hit_tokens_total_ += static_cast<uint64_t>(reused + tail);
  seqs_.emplace(seq, std::move(st));
  return reused + tail;
}

int KvBlocks::copy_block_start(int32_t seq, uint64_t parent, std::span<const int32_t> tokens, int first_pos,
                               int limit) {
  int best = -1, best_len = 0;
  auto [lo, hi] = by_parent_.equal_range(parent);
  for (auto it = lo; it != hi; ++it) {
    const Block& b = blocks_[it->second];
    if (b.parent_hash != parent || b.first_pos != first_pos) continue;
    const int n = std::min(limit, static_cast<int>(std::min(b.tokens.size(), tokens.size())));
    int len = 0;
    while (len < n && b.tokens[static_cast<size_t>(len)] == tokens[static_cast<size_t>(len)]) ++len;
    if (len > best_len) {
      best = it->second;
      best_len = len;
    }
  }
  // A copy is a pass of its own over every layer's cache (and the next step builds its graph anew),
  // while a few more prompt tokens cost a step almost nothing: it is made where it leaves only the
  // last token to compute, or saves half a block at least (not for the BOS every prompt shares).
  if (best < 0 || (best_len < limit && best_len * 2 < block_size_)) return 0;
  const std::vector<int32_t> src(blocks_[best].cells.begin(), blocks_[best].cells.begin() + best_len);
  std::vector<int32_t> positions(static_cast<size_t>(best_len));
  for (int i = 0; i < best_len; ++i) positions[static_cast<size_t>(i)] = first_pos + i;
  const std::vector<int32_t> dst = kv_.place(std::vector<int32_t>(static_cast<size_t>(best_len), seq), positions);
  copy_cells_(src, dst);
  copied_tokens_total_ += static_cast<uint64_t>(best_len);
  return best_len;
}

int32_t KvBlocks::prefix_home(std::span<const int32_t> prompt) const {
  if (kv_.n_regions() <= 1 || static_cast<int>(prompt.size()) <= block_size_) return -1;
  const auto id = find_cached(0, prompt.first(static_cast<size_t>(block_size_)));
  if (!id) return -1;
  const auto& cells = blocks_[*id].cells;
  if (cells.empty()) return -1;
  return cells.front() / kv_.region_size();
}

int KvBlocks::new_block() {
  if (free_.empty()) throw std::logic_error("KV block accounting: no free block for a reserved one");
  const int id = free_.back();
  free_.pop_back();
  ++n_alloc_;
  return id;
}

void KvBlocks::drop_unused_cached() {
  while (!evictable_.empty()) evict_one();
}

void KvBlocks::evict_one() {
  if (evictable_.empty()) throw std::logic_error("KV block accounting: nothing to evict");
  evict(evictable_.begin()->second);
}

// A sequence attends over its home region alone while its cells fit there (KvCache::set_regions).
// Cached blocks left there by the region's earlier sequences give way, oldest first, so that the new
// sequence's tokens fit; blocks elsewhere stay cached.
void KvBlocks::make_home_room(int32_t seq, int tokens) {
  if (seq >= kv_.n_regions()) return;  // no home region (the cache is not split)
  int room = kv_.region_free(seq);
  for (auto it = evictable_.begin(); room < tokens && it != evictable_.end();) {
    const int id = it->second;
    ++it;  // evict() erases the entry just passed
    int here = 0;
    for (int32_t cell : blocks_[id].cells) here += kv_.in_region(cell, seq) ? 1 : 0;
    if (here == 0) continue;
    evict(id);
    room += here;
  }
}

void KvBlocks::evict(int id) {
  Block& b = blocks_[id];
  evictable_.erase({b.stamp, id});
  kv_.unhold(b.cells);
  auto [lo, hi] = by_hash_.equal_range(b.hash);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == id) {
      by_hash_.erase(it);
      break;
    }
  }
  auto [plo, phi] = by_parent_.equal_range(b.parent_hash);
  for (auto it = plo; it != phi; ++it) {
    if (it->second == id) {
      by_parent_.erase(it);
      break;
    }
  }
  b = Block{};
  free_.push_back(id);
  --n_alloc_;
}

void KvBlocks::unref(int id) {
  Block& b = blocks_[id];
  if (--b.refs > 0) return;
  if (b.cached) {
    b.stamp = ++clock_;
    evictable_.insert({b.stamp, id});
  } else {
    b = Block{};
    free_.push_back(id);
    --n_alloc_;
  }
}

void KvBlocks::computed(int32_t seq, std::span<const int32_t> tokens, int n_computed) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw std::invalid_argument("sequence " + std::to_string(seq) + " was not admitted");
  SeqState& st = it->second;
  const int B = block_size_;
  while (static_cast<int>(st.table.size()) < blocks_for(n_computed)) {
    if (st.reserved == 0) throw std::logic_error("sequence " + std::to_string(seq) + " outgrew its KV reservation");
    --st.reserved;
    --n_reserved_;
    const int id = new_block();
    Block& b = blocks_[id];
    b.refs = 1;
    b.first_pos = static_cast<int32_t>(st.table.size()) * B;
    st.table.push_back(id);
  }
  while ((st.n_published + 1) * B <= n_computed) {
    const int k = st.n_published;
    auto toks = tokens.subspan(static_cast<size_t>(k) * B, B);
    Block& b = blocks_[st.table[k]];
    const uint64_t h = chain_hash(st.last_hash, toks);
    // A block with the same content published meanwhile by another sequence keeps this one private.
    if (!b.cached && !find_cached(st.last_hash, toks)) {
      b.cached = true;
      b.hash = h;
      b.parent_hash = st.last_hash;
      b.tokens.assign(toks.begin(), toks.end());
      b.cells = kv_.seq_cells(seq, b.first_pos, b.first_pos + B);
      kv_.hold(b.cells);
      by_hash_.emplace(h, st.table[k]);
      by_parent_.emplace(b.parent_hash, st.table[k]);
    }
    st.last_hash = h;
    ++st.n_published;
  }
  const auto partial = tokens.subspan(static_cast<size_t>(st.n_published) * B)
                           .first(static_cast<size_t>(std::max(0, n_computed - st.n_published * B)));
  st.partial.assign(partial.begin(), partial.end());
}

bool KvBlocks::grow(int32_t seq, int n_tokens) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw std::invalid_argument("sequence " + std::to_string(seq) + " was not admitted");
  SeqState& st = it->second;
  const int need = blocks_for(n_tokens) - static_cast<int>(st.table.size()) - st.reserved;
  if (need <= 0) return true;
  if (need > n_available()) return false;
  while (n_blocks_ - n_alloc_ - n_reserved_ < need) evict_one();
  st.reserved += need;
  n_reserved_ += need;
  return true;
}

void KvBlocks::release(int32_t seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  SeqState& st = it->second;
  if (copy_cells_ && !st.partial.empty() && st.n_published < static_cast<int>(st.table.size())) {
    const int id = st.table[static_cast<size_t>(st.n_published)];
    Block& b = blocks_[id];
    if (!b.cached && b.refs == 1 && !find_cached(st.last_hash, st.partial)) {
      b.cached = true;
      b.parent_hash = st.last_hash;
      b.hash = chain_hash(st.last_hash, st.partial);
      b.tokens = st.partial;
      b.cells = kv_.seq_cells(seq, b.first_pos, b.first_pos + static_cast<int32_t>(st.partial.size()));
      kv_.hold(b.cells);
      by_hash_.emplace(b.hash, id);
      by_parent_.emplace(b.parent_hash, id);
    }
  }
  // Children first, so that a parent becomes evictable later than its children.
  for (auto b = st.table.rbegin(); b != st.table.rend(); ++b) unref(*b);
  n_reserved_ -= st.reserved;
  kv_.seq_rm(seq);
  if (kv_.home_span(seq) > 1) kv_.set_home_span(seq, 1);
  seqs_.erase(it);
}

}  // namespace rbees::engine
