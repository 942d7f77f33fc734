#include "model/kv_attention.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace rbees::model {

KvAttention::KvAttention(const KvCache& kv, std::span<const int32_t> seqs, std::span<const int32_t> positions,
                         const AttentionOptions& options)
    : kv_(kv), options_(options), seqs_(seqs), positions_(positions) {
  for (int32_t s : seqs_) ++tokens_of_[s];
  // The per-region batch needs the flash kernel: the CPU's plain product runs a 4-D batch one
  // (head, stream) pair at a time, with a thread barrier each, which at 64 streams costs more than
  // scanning the whole span once.
  if (options_.flash && !sparse_decode()) plan_streams(options_.invariant);
  if (options_.flash && !options_.invariant) plan_gathered();
  plan_runs(layout_.n_stream_tokens + layout_.n_gathered);
  layout_.n_kv = layout_.n_general > 0 ? kv_.attention_span() : 0;
}

// A token qualifies when its sequence has a home, holds every cell there (the new one included)
// and has no other token in the pass; the run of qualifying tokens from the start forms the streams.
// Stream j of the group of homes of `span` regions is the home at region first + j * span, so homes
// of that group's range without a token (or of another size) become placeholders: the scheduler
// keeps homes of one region low in the cache and longer ones high, which keeps the ranges apart.
// in_order: only sequences whose cells are in position order qualify (batch-invariant mode).
void KvAttention::plan_streams(bool in_order) {
  std::vector<int> spans, extents;  // per qualifying token
  for (int32_t s : seqs_) {
    if (!single(s)) break;
    const int span = kv_.home_span(s);
    const int e = span > 0 ? kv_.home_extent(s) : -1;
    if (e < 0 || (in_order && !kv_.in_position_order(s))) break;
    spans.push_back(span);
    extents.push_back(e);
  }
  if (spans.empty()) return;
  std::vector<int> distinct = spans;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  layout_.groups.assign(distinct.size(), StreamGroup{});
  extent_.assign(distinct.size(), 0);
  std::vector<int> lowest(distinct.size(), kv_.n_regions());
  for (size_t i = 0; i < spans.size(); ++i) {
    const auto g = static_cast<size_t>(std::lower_bound(distinct.begin(), distinct.end(), spans[i]) - distinct.begin());
    lowest[g] = std::min(lowest[g], static_cast<int>(seqs_[i]));
    extent_[g] = std::max(extent_[g], extents[i]);
    token_group_.push_back(static_cast<int>(g));
  }
  for (size_t g = 0; g < distinct.size(); ++g) {
    const int granule = std::lcm(kStreamFirstGranule, distinct[g]);
    layout_.groups[g].span = distinct[g];
    layout_.groups[g].first = lowest[g] / granule * granule;
  }
  layout_.n_stream_tokens = static_cast<int>(spans.size());
  for (size_t i = 0; i < spans.size(); ++i) {
    StreamGroup& grp = layout_.groups[static_cast<size_t>(token_group_[i])];
    const int j = (seqs_[i] - grp.first) / grp.span;
    grp.n_streams = std::max(grp.n_streams, j + 1);
    token_stream_.push_back(j);
  }
  lay_out_streams();
  bool ordered = layout_.groups.size() == 1 && layout_.groups[0].span == 1 && layout_.groups[0].first == 0 &&
                 layout_.n_streams == layout_.n_stream_tokens;
  for (int i = 0; ordered && i < layout_.n_stream_tokens; ++i) ordered = token_streams_[static_cast<size_t>(i)] == i;
  layout_.streams_in_order = ordered;
}

void KvAttention::lay_out_streams() {
  layout_.n_streams = 0;
  layout_.region_mask_values = 0;
  std::vector<int> first;  // per group: its first stream over all groups
  for (size_t g = 0; g < layout_.groups.size(); ++g) {
    StreamGroup& grp = layout_.groups[g];
    const bool whole = options_.stable_shapes && grp.n_streams > 1;
    grp.window =
        kv_.region_window(whole ? grp.span * kv_.region_size() : extent_[g], grp.n_streams, grp.span, grp.first);
    first.push_back(layout_.n_streams);
    layout_.n_streams += grp.n_streams;
    layout_.region_mask_values += grp.window * grp.n_streams;
  }
  const auto n = static_cast<size_t>(layout_.n_streams);
  stream_rows_.assign(n, 0);
  stream_seq_.assign(n, -1);
  stream_pos_.assign(n, 0);
  token_streams_.assign(static_cast<size_t>(layout_.n_stream_tokens), 0);
  for (size_t i = 0; i < token_group_.size(); ++i) {
    const auto r =
        static_cast<size_t>(first[static_cast<size_t>(token_group_[i])]) + static_cast<size_t>(token_stream_[i]);
    stream_rows_[r] = static_cast<int32_t>(i);
    stream_seq_[r] = seqs_[i];
    stream_pos_[r] = positions_[i];
    token_streams_[i] = static_cast<int32_t>(r);
  }
  // Padding tokens read the first token's stream: a placeholder's output is not a number.
  for (size_t i = token_group_.size(); i < token_streams_.size(); ++i) token_streams_[i] = token_streams_[0];
}

void KvAttention::pad_streams(int n_tokens, int (*bucket)(int)) {
  if (!all_streams() || n_tokens < layout_.n_stream_tokens) {
    throw std::logic_error("only a pass of streams is padded, and only to more tokens");
  }
  bool grown = n_tokens > layout_.n_stream_tokens;
  for (StreamGroup& grp : layout_.groups) {
    const int end = std::min(kv_.n_regions(), grp.first + bucket(grp.n_streams * grp.span));
    const int n = std::max(grp.n_streams, (end - grp.first) / grp.span);
    grown = grown || n > grp.n_streams;
    grp.n_streams = n;
  }
  // The extra tokens read the first token's stream, through the reordering inputs; with stable
  // shapes a padded pass reorders also where its tokens fill the bucket in stream order
  // (AttentionOptions::stable_shapes).
  if (grown || options_.stable_shapes) layout_.streams_in_order = false;
  if (!grown) return;
  layout_.n_stream_tokens = n_tokens;
  lay_out_streams();
}

// Then the one-token sequences that outgrew their regions (decode tokens, mostly), batched over
// their gathered cells: one attention for all of them, and a graph shape that changes only with
// their number and longest length (in steps of 256 cells), not one run of its own each. Not in the
// invariant mode, whose reference kernel is given each sequence's cells unpadded.
void KvAttention::plan_gathered() {
  const int n = static_cast<int>(seqs_.size());
  for (int i = layout_.n_stream_tokens; i < n; ++i) {
    if (!single(seqs_[i]) || kv_.home_extent(seqs_[i]) > 0) break;
    layout_.gathered_window = std::max(layout_.gathered_window, kv_.gather_window(seqs_[i], true));
    ++layout_.n_gathered;
  }
}

bool KvAttention::sparse_decode() const {
  const int n = static_cast<int>(seqs_.size());
  if (options_.sparse_decode_max <= 0 || options_.invariant || n > options_.sparse_decode_max) return false;
  int lowest = kv_.n_regions();
  int highest = -1;
  for (int32_t s : seqs_) {
    if (!single(s) || kv_.home_extent(s) < 0) return false;
    lowest = std::min(lowest, static_cast<int>(s));
    highest = std::max(highest, static_cast<int>(s) + std::max(1, kv_.home_span(s)) - 1);
  }
  return highest - lowest + 1 >= kSparseStreamsRatio * n;
}

// The other tokens, sequence by sequence: over the home region where the sequence's every cell is
// there (the region path needs the flash kernel, as above), else over its gathered cells, else over
// the whole span.
void KvAttention::plan_runs(int from) {
  const int n = static_cast<int>(seqs_.size());
  const bool invariant = options_.invariant;
  auto& runs = layout_.runs;
  for (int i = from; i < n;) {
    int j = i + 1;
    while (j < n && seqs_[j] == seqs_[i]) ++j;
    const bool ordered = !invariant || kv_.in_position_order(seqs_[i]);
    // Each sequence attends over its own cells: over its home region where they all are, else
    // gathered in position order (the sums then follow positions, not where cells landed, which the
    // invariant mode needs). Only runs past max_runs (a graph's node budget) outside the invariant
    // mode join one pass over the cache's whole span, with a mask.
    const bool own = invariant || static_cast<int>(runs.size()) < options_.max_runs - 1;
    const int extent = options_.flash && ordered && own ? kv_.home_extent(seqs_[i]) : -1;
    if (extent > 0) {
      runs.push_back(AttentionRun{i, j - i, seqs_[i], kv_.run_window(seqs_[i], extent), layout_.run_mask_values});
      if (options_.split_runs) split_run(runs.back(), i > 0, j < n);
      layout_.run_mask_values += runs.back().window * runs.back().mask_rows();
    } else if (own && options_.flash) {
      // Padded to a multiple of 256 cells outside the invariant mode, so that decode steps keep the
      // graph's shape; the invariant mode's reference kernel sums the cells it is given.
      const int window = kv_.gather_window(seqs_[i], !invariant);
      runs.push_back(AttentionRun{i, j - i, seqs_[i], window, layout_.run_mask_values, true, layout_.gather_ints});
      layout_.run_mask_values += window * runs.back().mask_rows();
      layout_.gather_ints += window;
    } else if (!runs.empty() && runs.back().region < 0) {
      runs.back().n_tokens += j - i;
      layout_.n_general += j - i;
    } else {
      runs.push_back(AttentionRun{i, j - i, -1, 0, layout_.n_general});
      layout_.n_general += j - i;
    }
    i = j;
  }
}

// Worth it where the first half's rows end a key tile or more before the window does: those rows'
// tiles then stop early. The halves read the window twice through one view whose second copy has a
// stride of 0, which ggml sizes as two windows: they must fit the storage from the region on.
void KvAttention::split_run(AttentionRun& r, bool row_before, bool row_after) const {
  if (r.n_tokens < kSplitRunMinTokens || r.n_tokens >= kFlashSkipRows) return;
  if (r.window % kFlashKeyTile != 0 || r.window < 2 * kFlashKeyTile) return;
  const int h = (r.n_tokens + 1) / 2;
  const bool odd = r.n_tokens % 2 != 0;
  if (odd && !row_before && !row_after) return;
  if (positions_[static_cast<size_t>(r.begin + h - 1)] >= r.window - kFlashKeyTile) return;
  if (!kv_.windows_fit(r.region, r.window, 2)) return;
  r.half_rows = h;
  r.half_shift = odd && !row_after ? -1 : 0;
}

void KvAttention::fill_region_mask(MaskValue* out) const {
  size_t first = 0;
  for (const StreamGroup& grp : layout_.groups) {
    const auto n = static_cast<size_t>(grp.n_streams);
    kv_.fill_region_mask(out, grp.window, std::span<const int32_t>(stream_seq_).subspan(first, n),
                         std::span<const int32_t>(stream_pos_).subspan(first, n));
    out += n * static_cast<size_t>(grp.window);
    first += n;
  }
}

void KvAttention::fill_gathered(int32_t* cells, MaskValue* mask) const {
  const int w = layout_.gathered_window;
  for (int t = 0; t < layout_.n_gathered; ++t) {
    const int i = layout_.n_stream_tokens + t;
    const size_t at = static_cast<size_t>(t) * w;
    kv_.fill_seq_gather(cells + at, seqs_[i], w);
    kv_.fill_seq_mask(mask + at, w, seqs_[i], positions_.data() + i, 1);
  }
}

void KvAttention::fill_run_masks(MaskValue* out) const {
  for (const AttentionRun& r : layout_.runs) {
    if (r.region < 0) continue;
    const int32_t* pos = positions_.data() + r.begin;
    const size_t w = static_cast<size_t>(r.window);
    if (r.half_rows > 0) {
      // A borrowed row (outside the run) gets its nearest row's mask: its output is dropped, but
      // kept finite.
      const size_t h = static_cast<size_t>(r.half_rows);
      const size_t rows = static_cast<size_t>(AttentionRun::padded_rows(r.half_rows));
      std::vector<int32_t> half_pos(h);
      for (size_t s = 0; s < 2; ++s) {
        for (size_t t = 0; t < h; ++t) {
          const int i = std::clamp(r.half_shift + static_cast<int>(s * h + t), 0, r.n_tokens - 1);
          half_pos[t] = pos[i];
        }
        MaskValue* m = out + r.mask_at + s * rows * w;
        kv_.fill_run_mask(m, r.window, r.region, half_pos.data(), h);
        std::fill(m + h * w, m + rows * w, kMaskClosed);
      }
      continue;
    }
    std::fill(out + r.mask_at + r.n_tokens * w, out + r.mask_at + r.mask_rows() * w, kMaskClosed);
    if (r.gathered) {
      kv_.fill_seq_mask(out + r.mask_at, r.window, r.region, pos, static_cast<size_t>(r.n_tokens));
    } else {
      kv_.fill_run_mask(out + r.mask_at, r.window, r.region, pos, static_cast<size_t>(r.n_tokens));
    }
  }
}

void KvAttention::fill_run_gathers(int32_t* out) const {
  for (const AttentionRun& r : layout_.runs) {
    if (r.gathered) kv_.fill_seq_gather(out + r.gather_at, r.region, r.window);
  }
}

void KvAttention::fill_general_mask(MaskValue* out) const {
  std::vector<int32_t> g_seqs, g_pos;
  for (const AttentionRun& r : layout_.runs) {
    if (r.region >= 0) continue;
    g_seqs.insert(g_seqs.end(), seqs_.begin() + r.begin, seqs_.begin() + r.begin + r.n_tokens);
    g_pos.insert(g_pos.end(), positions_.begin() + r.begin, positions_.begin() + r.begin + r.n_tokens);
  }
  kv_.fill_mask(out, layout_.n_kv, g_seqs, g_pos);
}

}  // namespace rbees::model
