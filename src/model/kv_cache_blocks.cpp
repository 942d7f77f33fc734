// The KV cache's block placement (KvCache::set_block_size): each sequence's positions in blocks of
// contiguous cells of its own, kept apart from the cell bookkeeping in kv_cache.cpp.
#include <algorithm>
#include <stdexcept>

#include "model/kv_cache.hpp"

namespace rbees::model {

void KvCache::set_block_size(int b) {
  if (b <= 0 || b > size()) throw std::invalid_argument("KV block size must be between 1 and the cell count");
  if (used_ > 0) throw std::logic_error("KV block size set while cells are in use");
  block_ = b;
  block_used_.assign(static_cast<size_t>(size() / b), 0);
  block_owner_.assign(static_cast<size_t>(size() / b), -1);
  block_cursor_ = 0;
  set_regions(n_regions_, max_span_);
}

int32_t KvCache::seq_block(int32_t seq, int32_t pos) const {
  const SeqCells* sc = find_seq(seq);
  if (sc == nullptr || pos < 0) return -1;
  const size_t k = static_cast<size_t>(pos / block_);
  return k < sc->blocks.size() ? sc->blocks[k] : -1;
}

void KvCache::trim_blocks(int32_t seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  SeqCells& sc = it->second;
  for (size_t k = 0; k < sc.blocks.size(); ++k) {
    const int32_t b = sc.blocks[k];
    if (b < 0) continue;
    bool mapped = false;
    for (size_t p = k * block_; p < (k + 1) * block_ && p < sc.at.size() && !mapped; ++p) mapped = sc.at[p] >= 0;
    if (mapped) continue;
    if (block_owner_[b] == seq) block_owner_[b] = -1;
    sc.blocks[k] = -1;
  }
  while (!sc.blocks.empty() && sc.blocks.back() < 0) sc.blocks.pop_back();
}

int32_t KvCache::free_block(int32_t seq, bool at_home) {
  const auto n_blocks = static_cast<int32_t>(block_used_.size());
  auto is_free = [&](int32_t b) { return block_used_[b] == 0 && block_owner_[b] < 0; };
  if (at_home) {
    if (!has_home(seq) || region_size_ < block_) return -1;
    const int32_t per_region = region_size_ / block_;
    const int32_t end = (seq + homes_[seq].span) * per_region;
    for (int32_t b = seq * per_region + homes_[seq].free_from / block_; b < end; ++b) {
      if (is_free(b)) return b;
    }
    return -1;
  }
  while (block_cursor_ < n_blocks && !is_free(block_cursor_)) ++block_cursor_;
  return block_cursor_ < n_blocks ? block_cursor_ : -1;
}

int32_t KvCache::place_in_block(int32_t seq, int32_t pos, bool at_home) {
  const size_t k = static_cast<size_t>(pos / block_);
  const int32_t off = pos % block_;
  auto it = seqs_.find(seq);
  if (at_home && it != seqs_.end() && k < it->second.blocks.size()) {
    const int32_t b = it->second.blocks[k];
    if (b >= 0 && block_owner_[b] == seq && cells_[b * block_ + off].pos < 0) return b * block_ + off;
  }
  const int32_t b = free_block(seq, at_home);
  if (b < 0) return -1;
  block_owner_[b] = seq;
  std::vector<int32_t>& table = seqs_[seq].blocks;
  if (table.size() <= k) table.resize(k + 1, -1);
  table[k] = b;
  return b * block_ + off;
}

}  // namespace rbees::model
