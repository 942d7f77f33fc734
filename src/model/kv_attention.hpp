#pragma once
// How the tokens of one forward pass attend over the KV cache, and the contents of the graph inputs
// that say so: the KV side of the graph (llama.cpp's llm_graph_input_attn_kv), apart from the
// model's layers. Every token attends over its own sequence's cells only, in one of three ways:
// - streams: the leading tokens, one each of distinct sequences whose cells all lie in their homes
//   (KvCache::set_regions), attend in place in one 4-D attention per home size: for homes of one
//   region or of `span` regions alike, stream j over the home from region first + j * span, where
//   `first` is the group's lowest home, rounded down (so that a group kept in one part of the cache
//   is not strided over the other's homes);
// - gathered streams: the next tokens, one each of distinct sequences that outgrew their regions,
//   attend in one 4-D attention over their cells gathered in position order;
// - runs: the other tokens (prompt chunks, mostly), sequence by sequence, over the sequence's home
//   region, or its cells gathered, or (past the runs a graph holds) over the cache's whole span with
//   a mask.

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/kv_cache.hpp"

namespace rbees::model {

// Consecutive tokens after the streams that attend together: a prompt chunk of a sequence whose
// cells all lie in its home region attends over that region (region >= 0: `window` cells, its own
// mask at `mask_at` values into the runs' mask), so what it costs follows the sequence's length, not
// the cache's; a sequence whose cells are not all at home (or, with batch invariance, not in position
// order) is gathered (gathered: its cells in position order, `window` of them, indices at
// `gather_at` in the gather input, mask at `mask_at`; `region` names the sequence); other tokens
// attend over the cache's first n_kv cells (region < 0: rows [mask_at, mask_at + n_tokens) of the
// shared mask).
// A run's mask holds n_tokens rows, rounded up to kRunMaskRows (closed rows after them) when it has
// several tokens: when ggml's CUDA flash kernel looks for key tiles to skip (for runs of 1024 tokens
// and more), it reads the mask a whole tile of query rows at a time, past the run's last row.
inline constexpr int kRunMaskRows = 64;

// Keys per tile of ggml's CUDA flash kernel (FATTN_KQ_STRIDE): the unit in which it skips keys that
// a tile of query rows cannot see.
inline constexpr int kFlashKeyTile = 256;
// A region run of at least this many tokens may attend as two halves (AttentionOptions::split_runs);
// from kFlashSkipRows on, ggml's CUDA kernel skips closed key tiles of a single sequence itself.
inline constexpr int kSplitRunMinTokens = 128;
inline constexpr int kFlashSkipRows = 1024;

// A stream group starts at its lowest home rounded down to a multiple of this many regions, so that
// decode steps whose lowest home moves a little keep one graph shape, at a few placeholders' cost.
inline constexpr int kStreamFirstGranule = 8;

struct AttentionRun {
  int begin = 0;
  int n_tokens = 0;
  int region = -1;
  int window = 0;
  int mask_at = 0;
  bool gathered = false;
  int gather_at = 0;
  // > 0: the run attends as two halves of this many rows each (see KvAttention::split_run), half s
  // from the run's row half_shift + s * half_rows; an odd run's halves take one row beside it (the
  // row after it, or with half_shift -1 the row before it), whose output is dropped. The mask holds
  // each half's rows padded to kRunMaskRows, half 0's first.
  int half_rows = 0;
  int half_shift = 0;
  bool operator==(const AttentionRun&) const = default;
  int mask_rows() const {
    if (half_rows > 0) return 2 * padded_rows(half_rows);
    return n_tokens < 2 ? n_tokens : padded_rows(n_tokens);
  }
  static int padded_rows(int n) { return (n + kRunMaskRows - 1) / kRunMaskRows * kRunMaskRows; }
};

// One 4-D attention over homes of `span` regions: stream j reads `window` cells from region
// first + j * span (a placeholder where no token of the pass has that home).
struct StreamGroup {
  int span = 1;
  int n_streams = 0;
  int window = 0;  // cells per stream
  int first = 0;   // the region of stream 0: a multiple of kStreamFirstGranule and of span
  bool operator==(const StreamGroup&) const = default;
};

// What a graph's shape depends on, attention-wise: two passes with equal layouts run the same graph.
struct AttentionLayout {
  int n_stream_tokens = 0;
  std::vector<StreamGroup> groups;  // by span, ascending; their outputs follow one another
  int n_streams = 0;                // of all groups
  int region_mask_values = 0;       // the groups' masks, one after another: window * n_streams each
  bool streams_in_order = true;     // one group of single regions, token r stream r: no reordering
  int n_gathered = 0;
  int gathered_window = 0;         // cells per gathered stream
  std::vector<AttentionRun> runs;  // the tokens after the streams, in batch order
  int n_kv = 0;                    // the whole-span runs' cells
  int n_general = 0;               // tokens in whole-span runs
  int run_mask_values = 0;         // the region and gathered runs' masks, together
  int gather_ints = 0;             // the gathered runs' cell indices, together
  bool operator==(const AttentionLayout&) const = default;
};

struct AttentionOptions {
  bool flash = true;       // streams and per-sequence runs need the flash kernel
  bool invariant = false;  // batch-invariant mode: sums in position order, no padded gathers
  int max_runs = 64;       // runs one graph holds; past them, tokens share one whole-span run
  // Decode steps keep one graph shape as their sequences grow, finish and start, for a device that
  // replays an unchanged graph (ggml's CUDA backend: a CUDA graph; a changed one runs kernel by
  // kernel and is captured again):
  // - a group of several streams reads each whole home, not as far as its longest sequence
  //   reaches, so its window changes with the homes it covers, not every 256 tokens a sequence
  //   grows. The cells past a stream's last open one cost only their mask: with more than one
  //   stream, ggml's CUDA flash kernel stops each stream at its last open tile (KV_max);
  // - a padded pass always reorders its streams through its inputs (pad_streams), also where its
  //   tokens fill the bucket in stream order, so a full step and one a token short share a graph.
  // Both cost a little on every step (a longer mask, a reorder per layer), which a CPU's cheap
  // rebuilds do not repay.
  bool stable_shapes = false;
  // A prompt chunk's region run attends as two halves of its rows, batched as two sequences of one
  // flash attention over the same window: with more than one sequence, ggml's CUDA kernel finds each
  // tile of query rows' last open key tile and stops there, so the causal mask's closed upper part
  // is skipped, which it does for a single sequence only from 1024 query rows on.
  bool split_runs = false;
  // A pass of at most this many decode tokens (0: never) whose homes lie sparsely over the regions
  // (kSparseStreamsRatio or more regions per token between the lowest and the highest) attends a
  // token per run over its own home's window rather than as streams: a batch of streams over those
  // regions would be mostly placeholders, which ggml's CUDA kernel counts as work when it shares the
  // work out over its blocks, so the few real streams fall to a few blocks (a run's single query
  // takes its vector kernel, which splits the cells over blocks).
  int sparse_decode_max = 0;
};

inline constexpr int kSparseStreamsRatio = 4;

class KvAttention {
 public:
  // Plans the attention of the tokens (seqs[i], positions[i]), whose cells are placed already. The
  // cache and both spans must outlive this plan (the fills read them).
  KvAttention(const KvCache& kv, std::span<const int32_t> seqs, std::span<const int32_t> positions,
              const AttentionOptions& options);

  const AttentionLayout& layout() const { return layout_; }

  // Whether every token of the pass attends as a stream (a decode step whose sequences are all at
  // home): such a pass may be padded to a bucketed shape.
  bool all_streams() const {
    return layout_.n_stream_tokens == static_cast<int>(seqs_.size()) && layout_.n_gathered == 0 && layout_.runs.empty();
  }
  // Pads an all_streams() pass to n_tokens tokens (the extra ones, after the pass's, read the first
  // token's stream's output and are discarded), each group's regions from its first to bucket(regions it
  // covers), within the cache (streams without a token are placeholders), so that decode steps of
  // nearby sizes share one graph shape.
  void pad_streams(int n_tokens, int (*bucket)(int));

  // The inputs' contents, each of the size its layout field gives:
  void fill_region_mask(MaskValue* out) const;                               // [region_mask_values]
  std::span<const int32_t> stream_rows() const { return stream_rows_; }      // [n_streams], group by group
  std::span<const int32_t> token_streams() const { return token_streams_; }  // [n_stream_tokens]
  void fill_gathered(int32_t* cells, MaskValue* mask) const;                 // [gathered_window * n_gathered] each
  void fill_run_masks(MaskValue* out) const;                                 // [run_mask_values]
  void fill_run_gathers(int32_t* out) const;                                 // [gather_ints]
  void fill_general_mask(MaskValue* out) const;                              // [n_kv, n_general]

 private:
  void plan_streams(bool in_order);
  // Whether the pass is a sparse decode step (AttentionOptions::sparse_decode_max).
  bool sparse_decode() const;
  // Lays the groups' streams out one after another (stream_rows_, stream_seq_, stream_pos_,
  // token_streams_) and sizes their windows, from token_group_ and token_stream_.
  void lay_out_streams();
  void plan_gathered();
  void plan_runs(int from);
  // Halves the region run r where that skips key tiles (split_runs); row_before and row_after say
  // whether the pass has a token before and after it, which an odd run's halves may borrow.
  void split_run(AttentionRun& r, bool row_before, bool row_after) const;
  // Whether the pass has exactly one token of the sequence.
  bool single(int32_t seq) const { return tokens_of_.at(seq) == 1; }

  const KvCache& kv_;
  AttentionOptions options_;
  std::span<const int32_t> seqs_;
  std::span<const int32_t> positions_;
  std::unordered_map<int32_t, int> tokens_of_;  // the pass's tokens per sequence
  AttentionLayout layout_;
  std::vector<int32_t> stream_rows_;    // per stream: its token (0 for a placeholder)
  std::vector<int32_t> token_streams_;  // per token: its stream, counted over all groups
  std::vector<int32_t> stream_seq_;     // per stream: its sequence, -1 for a placeholder
  std::vector<int32_t> stream_pos_;
  std::vector<int> token_group_;   // per stream token: its group
  std::vector<int> token_stream_;  // per stream token: its stream in the group
  std::vector<int> extent_;        // per group: the streams' longest extent in their homes
};

}  // namespace rbees::model
