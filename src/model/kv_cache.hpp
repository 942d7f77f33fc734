#pragma once
// The KV cache: `size()` cells, each holding one token's keys and values for every layer on the
// device, with the token's position. Each sequence maps its positions to cells; a cell is in use
// while a sequence maps to it or the prefix cache holds it (hold()), counted in the cell itself, so
// that neither a step nor a mask walks a per-cell container.
//
// Cells are placed in blocks (set_block_size(B)): block b is the B contiguous cells [b*B, (b+1)*B),
// and each sequence keeps a block table, its positions [k*B, (k+1)*B) in one block of its own at
// offsets pos % B. A sequence takes a free block when it first writes into a block of positions (in
// its home region while one is free there, else the first free block anywhere). A block other
// sequences share (share(), seq_cp()) is never written by a sequence that does not own it: its next
// position goes to a new block of its own. Only where no whole block is free does a token take any
// free cell, so the cell count stays the capacity. B = 1 (the default) places cell by cell.

#include <ggml-backend.h>
#include <ggml.h>

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/device.hpp"
#include "core/residency.hpp"

namespace rbees::model {

// Attention masks hold F16 values, as the flash kernels read them: built so on the host, a mask
// goes to the device at half the bytes of F32 and needs no conversion in the graph.
using MaskValue = ggml_fp16_t;
inline constexpr MaskValue kMaskOpen = 0x0000;    // +0: the cell may be read
inline constexpr MaskValue kMaskClosed = 0xFC00;  // -inf: it may not

class KvCache {
 public:
  // n_embd_k / n_embd_v: key / value width of one token in one layer (head_dim * n_head_kv).
  // type: GGML_TYPE_F16 (compact) or GGML_TYPE_F32 (exact). Layers below first_device_layer (those
  // --gpu-layers leaves on the CPU) are stored in CPU memory, the rest on the device.
  KvCache(const core::Device& device, int n_layer, int n_embd_k, int n_embd_v, int n_cells, ggml_type type,
          int first_device_layer = 0);
  // Across several devices: layer il's keys and values on devices[layer_devices[il]] (-1: in CPU
  // memory), so that each layer's cache is where its weights are.
  KvCache(const std::vector<const core::Device*>& devices, const std::vector<int>& layer_devices, int n_embd_k,
          int n_embd_v, int n_cells, ggml_type type);
  ~KvCache();
  KvCache(KvCache&& other) noexcept;
  KvCache& operator=(KvCache&& other) noexcept;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int size() const { return static_cast<int>(cells_.size()); }
  // Cells per block (see above); set before any cell is placed, and before set_regions(), whose
  // regions then start and end on block boundaries where each holds a block.
  void set_block_size(int b);
  int block_size() const { return block_; }
  // The physical block holding position `pos` of `seq` in its block table, or -1.
  int32_t seq_block(int32_t seq, int32_t pos) const;
  int used() const { return used_; }
  int n_free() const { return size() - used_; }
  ggml_type type() const { return type_; }

  // Forgets every sequence (the device memory is kept).
  void clear();
  // Removes the cells of `seq` with p0 <= pos < p1 (p0 < 0: from 0; p1 < 0: to the end; seq < 0:
  // every sequence). A cell shared with another sequence stays for that one.
  void seq_rm(int32_t seq, int32_t p0 = -1, int32_t p1 = -1);
  // Makes `dst` share the cells of `src` with p0 <= pos < p1 (no copy: the cells get a second tag).
  void seq_cp(int32_t src, int32_t dst, int32_t p0 = -1, int32_t p1 = -1);
  // The cells of `seq` in position order.
  std::vector<int32_t> seq_cells(int32_t seq) const;
  // Those of its cells with p0 <= pos < p1, in position order.
  std::vector<int32_t> seq_cells(int32_t seq, int32_t p0, int32_t p1) const;

  // The prefix cache's hold on cells no sequence may need any more: a held cell stays in use (its
  // keys and values kept) until every hold and every sequence mapping to it is gone. Holds count.
  void hold(std::span<const int32_t> cells);
  void unhold(std::span<const int32_t> cells);
  // Makes `seq` map positions first_pos, first_pos + 1, ... to `cells` (in use, at those positions):
  // the sequence shares them, nothing is copied. Throws std::invalid_argument when a cell is free or
  // holds another position, or the sequence already has one of the positions.
  void share(std::span<const int32_t> cells, int32_t seq, int32_t first_pos);
  // The highest position stored for `seq`, or -1.
  int32_t seq_pos_max(int32_t seq) const;
  std::vector<int32_t> sequences() const;

  // For the model: claims one free cell per token, tagged (seq, pos). Throws std::runtime_error when
  // there are not enough free cells and std::invalid_argument when a (seq, pos) is already stored;
  // on error nothing changes.
  std::vector<int32_t> place(const std::vector<int32_t>& seq_ids, const std::vector<int32_t>& positions);
  // The checks of place() without the placing.
  void check_placeable(const std::vector<int32_t>& seq_ids, const std::vector<int32_t>& positions) const;
  // Frees cells claimed by place() (used when a forward pass fails).
  void release(const std::vector<int32_t>& cells, const std::vector<int32_t>& seq_ids);
  // Cells [0, n) that attention must scan: every used cell lies below it (padded to limit the
  // number of distinct graph shapes).
  int attention_span() const;

  // Home regions. With n regions the cells split into n equal runs of region_size() cells, and a
  // sequence s < n places its tokens in run s while it has free cells there (anywhere after). A
  // sequence whose cells all lie in its home region can attend over that region alone: attention
  // then costs what the sequence holds, not what the whole cache holds. One region (the default)
  // makes the whole cache sequence 0's home.
  //
  // A sequence's home may span up to max_span consecutive regions (set_home_span), from a region
  // whose index is a multiple of the span: a long sequence takes the room of several short ones and
  // still attends in place, in a batch of streams with homes of its span.
  void set_regions(int n, int max_span = 1);
  int n_regions() const { return n_regions_; }
  int region_size() const { return region_size_; }
  int max_span() const { return max_span_; }
  // Makes the home of `seq` the regions seq .. seq + n - 1 (n = 1: its own region alone; seq a
  // multiple of n), before it holds cells there. The other regions must belong to no other span and their sequences
  // hold no cells; while covered they are nobody's home. Throws std::logic_error otherwise.
  void set_home_span(int32_t seq, int n);
  // Regions the home of `seq` spans (0 for a sequence without a home).
  int home_span(int32_t seq) const;
  // Free cells in the home region of `seq` (0 for a sequence without one).
  int region_free(int32_t seq) const;
  // Whether the home region of `seq` has a free cell (amortized: no scan of the region per call).
  bool home_has_room(int32_t seq) const;
  // Whether `cell` lies in the home region of `seq`.
  bool in_region(int32_t cell, int32_t seq) const;
  // For a sequence whose every cell lies in its home region: one past the highest offset it uses
  // there (0 when it holds nothing); otherwise -1.
  int home_extent(int32_t seq) const;
  // Attention window for n_streams homes of `span` regions each (stream r at region first + r * span)
  // whose extents are at most `extent`: a multiple of 256 cells when the storage (which has 256 spare
  // rows past the last cell) holds that many windows after the first home, else the home's size.
  int region_window(int extent, int n_streams, int span = 1, int first = 0) const;
  // Additive mask [window, n_streams], row r for the home of stream_seq[r] (which starts at region
  // stream_seq[r], wherever the stream lies in its group): 0 where the token of stream r (at
  // stream_pos[r]) may read the cell at offset c of that home. A stream with sequence -1 is a
  // placeholder whose output nothing reads: its row is closed, so that ggml's CUDA flash kernel
  // reads none of its cells (one tile of 256 cells each cost 27 us a step on an H200 at 7B), and
  // its output is 0/0.
  void fill_region_mask(MaskValue* mask, int window, std::span<const int32_t> stream_seq,
                        std::span<const int32_t> stream_pos) const;
  // Attention window for a run of tokens of sequence `seq`, whose cells all lie in its home region
  // up to offset `extent`: a multiple of 256 cells when it fits the storage from the region's start,
  // else the region.
  int run_window(int32_t seq, int extent) const;
  // Whether n windows of `window` cells from the start of seq's home region fit the storage's rows.
  bool windows_fit(int32_t seq, int window, int n) const;
  // Additive mask [window, n], row t for the token of `seq` at positions[t]: 0 where it may read the
  // cell at offset c of the sequence's home region, -INF elsewhere.
  void fill_run_mask(MaskValue* mask, int window, int32_t seq, const int32_t* positions, size_t n) const;
  // Whether the cells of `seq`, taken in position order, have ascending indices. Attention sums over
  // cells in index order, so only then does it sum over this sequence's in position order.
  bool in_position_order(int32_t seq) const;
  // Cells `seq` maps to.
  int seq_length(int32_t seq) const;
  // Cells to gather for `seq`, `window` >= seq_length(seq) of them: its cells in position order
  // (seq_cells()), then its first cell again as padding (masked out by fill_seq_mask).
  int gather_window(int32_t seq, bool padded) const;
  void fill_seq_gather(int32_t* out, int32_t seq, int window) const;
  // Additive mask [window, n] over the gathered cells (fill_seq_gather): row t lets the token at
  // positions[t] read the cells with positions up to its own; the padding is -INF.
  void fill_seq_mask(MaskValue* mask, int window, int32_t seq, const int32_t* positions, size_t n) const;
  // Additive mask [n_kv, n_tokens], row-major by token: 0 where token t may read cell c (same
  // sequence, cell position <= token position), -INF elsewhere.
  void fill_mask(MaskValue* mask, int n_kv, const std::vector<int32_t>& seq_ids,
                 const std::vector<int32_t>& positions) const;

  ggml_tensor* k(int layer) const { return k_[layer]; }
  ggml_tensor* v(int layer) const { return v_[layer]; }
  // The device's buffer (null when no layer is on the device), then the CPU's (null when none is),
  // then those of the further devices of a split.
  std::vector<ggml_backend_buffer_t> buffers() const;
  // Bytes on model device `device` (-1: the CPU memory of layers --gpu-layers left there).
  std::size_t bytes_on(int device) const;
  // Names this cache's device storage; no other cache, living or dead, has the same id. A graph
  // built for one cache may only run again on the cache with its id.
  uint64_t storage_id() const { return storage_id_; }
  core::ResidencyReport residency() const;

 private:
  struct Cell {
    int32_t pos = -1;  // -1: free
    int32_t refs = 0;  // sequences mapping to it, plus holds
  };
  // A sequence's cells by position (-1 where it has none), trimmed after its highest position.
  struct SeqCells {
    std::vector<int32_t> at;
    std::vector<int32_t> blocks;  // block table: the physical block of positions [k*B, (k+1)*B), or -1
    int count = 0;
    int32_t cell_at(int32_t pos) const {
      return pos >= 0 && static_cast<size_t>(pos) < at.size() ? at[static_cast<size_t>(pos)] : -1;
    }
    template <class F>
    void each(F&& f) const {
      for (size_t p = 0; p < at.size(); ++p) {
        if (at[p] >= 0) f(static_cast<int32_t>(p), at[p]);
      }
    }
  };
  const SeqCells* find_seq(int32_t seq) const;
  void tag(int32_t cell, int32_t seq);
  void untag(int32_t cell, int32_t seq);
  void unref(int32_t cell);
  // Maps (seq, pos) to `cell`, or drops the mapping (cell -1); returns the cell it mapped to, or -1.
  int32_t map_cell(int32_t seq, int32_t pos, int32_t cell);
  void free_storage();
  // The first free block in the home region of `seq` (at_home), else the first anywhere; or -1.
  int32_t free_block(int32_t seq, bool at_home);
  // The cell for (seq, pos) in a block: its own block of those positions or a new one from
  // free_block(seq, at_home); -1 where there is none. Enters a new block in the sequence's table.
  int32_t place_in_block(int32_t seq, int32_t pos, bool at_home);
  // Drops the block-table entries of `seq` whose positions it no longer maps.
  void trim_blocks(int32_t seq);
  // Rebuilds homes_[seq] from the sequence's cells.
  void recount_home(int32_t seq) const;

  // What home_extent() and place() need of home region s (sequence s), kept up to date as cells are
  // tagged and untagged so that a step does not walk every sequence's cells or regions.
  struct Home {
    int outside = 0;        // cells of the sequence outside its home region
    int top = 0;            // one past the highest offset it uses in the region (unless stale)
    bool stale = false;     // a cell at the top was untagged: top is recounted when asked for
    int32_t free_from = 0;  // no cell of the region below this offset is free
    int span = 1;           // regions the home spans from this one
    int32_t owner = -1;     // the sequence whose span covers this region, or -1 (its own)
  };
  // Whether `seq` has a home: a region of its own, not covered by another sequence's span.
  bool has_home(int32_t seq) const {
    return seq >= 0 && seq < n_regions_ && homes_[static_cast<size_t>(seq)].owner < 0;
  }
  // Cells in the home of `seq` (has_home).
  int32_t home_cells(int32_t seq) const { return homes_[static_cast<size_t>(seq)].span * region_size_; }

  ggml_backend_dev_t dev_ = nullptr;
  std::vector<ggml_backend_dev_t> devs_;  // every device of the cache, dev_ first
  ggml_type type_ = GGML_TYPE_F16;
  ggml_context* ctx_ = nullptr;
  ggml_backend_buffer_t buffer_ = nullptr;
  ggml_context* cpu_ctx_ = nullptr;  // the layers below first_device_layer
  ggml_backend_buffer_t cpu_buffer_ = nullptr;
  // Devices 1.. of a split: their context and buffer (null when they hold no layer).
  std::vector<std::pair<ggml_context*, ggml_backend_buffer_t>> more_;
  std::vector<ggml_tensor*> k_;
  std::vector<ggml_tensor*> v_;
  std::vector<Cell> cells_;
  std::unordered_map<int32_t, SeqCells> seqs_;
  int used_ = 0;
  int n_regions_ = 1;
  int region_size_ = 0;
  int max_span_ = 1;
  int block_ = 1;
  std::vector<int32_t> block_used_;   // used cells per block
  std::vector<int32_t> block_owner_;  // the sequence writing into each block, or -1
  int32_t block_cursor_ = 0;          // no block below it is free
  mutable std::vector<Home> homes_;   // one per region; recounted lazily by const home_extent()
  uint64_t storage_id_ = 0;
};

}  // namespace rbees::model
