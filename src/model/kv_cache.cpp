#include "model/kv_cache.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/log.hpp"

namespace rbees::model {

namespace {
// Attention scans the used cells rounded up to this: the graph keeps its shape for this many decode
// steps, so it is reused (and a GPU replays it as a CUDA graph) instead of being rebuilt per token.
constexpr int kSpanPad = 256;
std::atomic<uint64_t> next_storage_id{1};
}  // namespace

namespace {

std::vector<int> first_layers_on_cpu(int n_layer, int first_device_layer) {
  first_device_layer = std::clamp(first_device_layer, 0, n_layer);
  std::vector<int> out(std::max(0, n_layer), 0);
  for (int il = 0; il < first_device_layer; ++il) out[il] = -1;
  return out;
}

}  // namespace

KvCache::KvCache(const core::Device& device, int n_layer, int n_embd_k, int n_embd_v, int n_cells, ggml_type type,
                 int first_device_layer)
    : KvCache({&device}, first_layers_on_cpu(n_layer, first_device_layer), n_embd_k, n_embd_v, n_cells, type) {}

KvCache::KvCache(const std::vector<const core::Device*>& devices, const std::vector<int>& layer_devices, int n_embd_k,
                 int n_embd_v, int n_cells, ggml_type type)
    : dev_(devices.at(0)->info().dev),
      type_(type),
      cells_(n_cells),
      region_size_(n_cells),
      block_used_(n_cells, 0),
      block_owner_(n_cells, -1),
      homes_(1),
      storage_id_(next_storage_id++) {
  if (n_cells <= 0) throw std::invalid_argument("KV cache needs at least one cell");
  if (type != GGML_TYPE_F16 && type != GGML_TYPE_F32) throw std::invalid_argument("KV cache type must be F16 or F32");
  const int n_layer = static_cast<int>(layer_devices.size());
  for (const core::Device* d : devices) devs_.push_back(d->info().dev);
  ggml_init_params params{ggml_tensor_overhead() * 2 * std::max(1, n_layer), nullptr, true};
  ctx_ = ggml_init(params);
  int layers_on_cpu = 0;
  for (int d : layer_devices) {
    if (d >= static_cast<int>(devices.size())) throw std::invalid_argument("KV cache layer on an unknown device");
    layers_on_cpu += d < 0 ? 1 : 0;
  }
  if (layers_on_cpu > 0) cpu_ctx_ = ggml_init(params);
  more_.assign(devices.size() - 1, {nullptr, nullptr});
  for (int il = 0; il < n_layer; ++il) {
    const int d = layer_devices[il];
    ggml_context* home = d < 0 ? cpu_ctx_ : d == 0 ? ctx_ : more_[d - 1].first;
    if (home == nullptr) home = more_[d - 1].first = ggml_init(params);
    // kSpanPad rows past the last cell, never placed: a region's attention window may run past the
    // region (and the last region's past the cells) up to a multiple of kSpanPad, a length the
    // GPU's one-query flash kernel requires.
    k_.push_back(ggml_new_tensor_2d(home, type, n_embd_k, n_cells + kSpanPad));
    v_.push_back(ggml_new_tensor_2d(home, type, n_embd_v, n_cells + kSpanPad));
    ggml_format_name(k_.back(), "cache_k-%d", il);
    ggml_format_name(v_.back(), "cache_v-%d", il);
  }
  // Allocates the tensors of ctx (when it has any) in one buffer of buft.
  auto allocate = [&](ggml_context* ctx, ggml_backend_buffer_type_t buft, const std::string& where) {
    if (ctx == nullptr || ggml_get_first_tensor(ctx) == nullptr) return static_cast<ggml_backend_buffer_t>(nullptr);
    ggml_backend_buffer_t b = ggml_backend_alloc_ctx_tensors_from_buft(ctx, buft);
    if (b == nullptr) {
      free_storage();
      throw std::runtime_error("could not allocate the KV cache (" + std::to_string(n_cells) + " cells) on " + where);
    }
    // Masked cells still enter the products (times zero), so they must hold finite numbers.
    ggml_backend_buffer_clear(b, 0);
    return b;
  };
  buffer_ = allocate(ctx_, devices[0]->buffer_type(), devices[0]->info().id);
  if (cpu_ctx_ != nullptr) {
    cpu_buffer_ =
        allocate(cpu_ctx_, ggml_backend_dev_buffer_type(ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU)), "cpu");
  }
  for (size_t i = 0; i < more_.size(); ++i) {
    more_[i].second = allocate(more_[i].first, devices[i + 1]->buffer_type(), devices[i + 1]->info().id);
  }
  auto size = [](ggml_backend_buffer_t b) {
    return static_cast<unsigned long long>(b != nullptr ? ggml_backend_buffer_get_size(b) : 0);
  };
  unsigned long long total = size(buffer_) + size(cpu_buffer_);
  for (const auto& m : more_) total += size(m.second);
  std::string ids = devices[0]->info().id;
  for (size_t i = 1; i < devices.size(); ++i) ids += "," + devices[i]->info().id;
  log::info("kv_cache", "KV cache allocated",
            {{"cells", n_cells},
             {"layers", n_layer},
             {"type", ggml_type_name(type)},
             {"bytes", total},
             {"device", ids},
             {"layers_on_cpu", layers_on_cpu},
             {"bytes_on_cpu", size(cpu_buffer_)}});
}

std::vector<ggml_backend_buffer_t> KvCache::buffers() const {
  std::vector<ggml_backend_buffer_t> out{buffer_, cpu_buffer_};
  for (const auto& m : more_) out.push_back(m.second);
  return out;
}

std::size_t KvCache::bytes_on(int device) const {
  ggml_backend_buffer_t b = device < 0                                    ? cpu_buffer_
                            : device == 0                                 ? buffer_
                            : device - 1 < static_cast<int>(more_.size()) ? more_[device - 1].second
                                                                          : nullptr;
  return b != nullptr ? ggml_backend_buffer_get_size(b) : 0;
}

KvCache::~KvCache() {
  free_storage();
}

void KvCache::free_storage() {
  if (buffer_ != nullptr) ggml_backend_buffer_free(buffer_);
  if (ctx_ != nullptr) ggml_free(ctx_);
  if (cpu_buffer_ != nullptr) ggml_backend_buffer_free(cpu_buffer_);
  if (cpu_ctx_ != nullptr) ggml_free(cpu_ctx_);
  for (auto& [ctx, buf] : more_) {
    if (buf != nullptr) ggml_backend_buffer_free(buf);
    if (ctx != nullptr) ggml_free(ctx);
  }
  more_.clear();
  buffer_ = nullptr;
  ctx_ = nullptr;
  cpu_buffer_ = nullptr;
  cpu_ctx_ = nullptr;
}

KvCache::KvCache(KvCache&& o) noexcept
    : dev_(o.dev_),
      devs_(std::move(o.devs_)),
      type_(o.type_),
      ctx_(std::exchange(o.ctx_, nullptr)),
      buffer_(std::exchange(o.buffer_, nullptr)),
      cpu_ctx_(std::exchange(o.cpu_ctx_, nullptr)),
      cpu_buffer_(std::exchange(o.cpu_buffer_, nullptr)),
      more_(std::exchange(o.more_, {})),
      k_(std::move(o.k_)),
      v_(std::move(o.v_)),
      cells_(std::move(o.cells_)),
      seqs_(std::move(o.seqs_)),
      used_(std::exchange(o.used_, 0)),
      n_regions_(std::exchange(o.n_regions_, 1)),
      region_size_(std::exchange(o.region_size_, 0)),
      max_span_(std::exchange(o.max_span_, 1)),
      block_(std::exchange(o.block_, 1)),
      block_used_(std::move(o.block_used_)),
      block_owner_(std::move(o.block_owner_)),
      block_cursor_(std::exchange(o.block_cursor_, 0)),
      homes_(std::exchange(o.homes_, std::vector<Home>(1))),
      storage_id_(std::exchange(o.storage_id_, 0)) {}

KvCache& KvCache::operator=(KvCache&& o) noexcept {
  if (this != &o) {
    free_storage();
    dev_ = o.dev_;
    devs_ = o.devs_;
    type_ = o.type_;
    ctx_ = std::exchange(o.ctx_, nullptr);
    buffer_ = std::exchange(o.buffer_, nullptr);
    cpu_ctx_ = std::exchange(o.cpu_ctx_, nullptr);
    cpu_buffer_ = std::exchange(o.cpu_buffer_, nullptr);
    more_ = std::exchange(o.more_, {});
    k_ = std::move(o.k_);
    v_ = std::move(o.v_);
    cells_ = std::move(o.cells_);
    seqs_ = std::move(o.seqs_);
    used_ = std::exchange(o.used_, 0);
    n_regions_ = std::exchange(o.n_regions_, 1);
    region_size_ = std::exchange(o.region_size_, 0);
    max_span_ = std::exchange(o.max_span_, 1);
    block_ = std::exchange(o.block_, 1);
    block_used_ = std::move(o.block_used_);
    block_owner_ = std::move(o.block_owner_);
    block_cursor_ = std::exchange(o.block_cursor_, 0);
    homes_ = std::exchange(o.homes_, std::vector<Home>(1));
    storage_id_ = std::exchange(o.storage_id_, 0);
  }
  return *this;
}

void KvCache::clear() {
  for (auto& c : cells_) c = Cell{};
  seqs_.clear();
  used_ = 0;
  for (auto& h : homes_) h = Home{};
  std::fill(block_used_.begin(), block_used_.end(), 0);
  std::fill(block_owner_.begin(), block_owner_.end(), -1);
  block_cursor_ = 0;
}

namespace {
// Positions index a vector per sequence: bounded so that a wild one is an error, not a huge
// allocation (no model here has a context anywhere near it).
constexpr int32_t kMaxPosition = 1 << 24;
}  // namespace

const KvCache::SeqCells* KvCache::find_seq(int32_t seq) const {
  auto it = seqs_.find(seq);
  return it == seqs_.end() || it->second.count == 0 ? nullptr : &it->second;
}

int32_t KvCache::map_cell(int32_t seq, int32_t pos, int32_t cell) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) {
    if (cell < 0) return -1;
    it = seqs_.emplace(seq, SeqCells{}).first;
  }
  SeqCells& sc = it->second;
  if (static_cast<size_t>(pos) >= sc.at.size()) {
    if (cell < 0) return -1;
    sc.at.resize(static_cast<size_t>(pos) + 1, -1);
  }
  const int32_t old = sc.at[static_cast<size_t>(pos)];
  sc.at[static_cast<size_t>(pos)] = cell;
  sc.count += (cell >= 0 ? 1 : 0) - (old >= 0 ? 1 : 0);
  while (!sc.at.empty() && sc.at.back() < 0) sc.at.pop_back();
  if (sc.count == 0) {
    for (int32_t b : sc.blocks) {
      if (b >= 0 && block_owner_[b] == seq) block_owner_[b] = -1;
    }
    seqs_.erase(it);
  }
  return old;
}

void KvCache::tag(int32_t cell, int32_t seq) {
  ++cells_[cell].refs;
  if (!has_home(seq)) return;
  Home& h = homes_[seq];
  if (in_region(cell, seq)) {
    h.top = std::max(h.top, cell - seq * region_size() + 1);
  } else {
    ++h.outside;
  }
}

void KvCache::untag(int32_t cell, int32_t seq) {
  if (has_home(seq)) {
    Home& h = homes_[seq];
    if (!in_region(cell, seq)) {
      --h.outside;
    } else if (cell - seq * region_size() + 1 >= h.top) {
      h.stale = true;
    }
  }
  unref(cell);
}

void KvCache::unref(int32_t cell) {
  Cell& c = cells_[cell];
  if (--c.refs > 0 || c.pos < 0) return;
  c = Cell{};
  --used_;
  const int32_t b = cell / block_;
  if (b < static_cast<int32_t>(block_used_.size()) && --block_used_[b] == 0) {
    block_owner_[b] = -1;
    block_cursor_ = std::min(block_cursor_, b);
  }
  const int32_t r_size = region_size();
  const int32_t region = cell / r_size;
  if (region < n_regions_) {
    // The cell is free again in the home that covers its region.
    const int32_t owner = homes_[region].owner >= 0 ? homes_[region].owner : region;
    homes_[owner].free_from = std::min(homes_[owner].free_from, cell - owner * r_size);
  }
}

void KvCache::recount_home(int32_t seq) const {
  Home& h = homes_[seq];
  h.outside = 0;
  h.top = 0;
  h.stale = false;
  const SeqCells* sc = find_seq(seq);
  if (sc == nullptr) return;
  const int32_t base = seq * region_size();
  sc->each([&](int32_t, int32_t cell) {
    if (in_region(cell, seq)) {
      h.top = std::max(h.top, cell - base + 1);
    } else {
      ++h.outside;
    }
  });
}

void KvCache::seq_rm(int32_t seq, int32_t p0, int32_t p1) {
  if (p0 < 0) p0 = 0;
  if (p1 < 0) p1 = std::numeric_limits<int32_t>::max();
  std::vector<int32_t> which;
  if (seq < 0) {
    which = sequences();
  } else {
    which.push_back(seq);
  }
  for (int32_t s : which) {
    const SeqCells* sc = find_seq(s);
    if (sc == nullptr) continue;
    // Collected first: dropping the last mapping erases the sequence's entry.
    std::vector<int32_t> gone;
    sc->each([&](int32_t pos, int32_t) {
      if (pos >= p0 && pos < p1) gone.push_back(pos);
    });
    for (int32_t pos : gone) untag(map_cell(s, pos, -1), s);
    trim_blocks(s);
  }
}

void KvCache::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  if (src == dst) return;
  const SeqCells* sc = find_seq(src);
  if (sc == nullptr) return;
  if (p0 < 0) p0 = 0;
  if (p1 < 0) p1 = std::numeric_limits<int32_t>::max();
  std::vector<std::pair<int32_t, int32_t>> copy;
  sc->each([&](int32_t pos, int32_t cell) {
    if (pos >= p0 && pos < p1) copy.emplace_back(pos, cell);
  });
  for (const auto& [pos, cell] : copy) {
    tag(cell, dst);
    const int32_t old = map_cell(dst, pos, cell);
    if (old >= 0) untag(old, dst);
  }
}

std::vector<int32_t> KvCache::seq_cells(int32_t seq) const {
  std::vector<int32_t> out;
  if (const SeqCells* sc = find_seq(seq)) {
    out.reserve(static_cast<size_t>(sc->count));
    sc->each([&](int32_t, int32_t cell) { out.push_back(cell); });
  }
  return out;
}

std::vector<int32_t> KvCache::seq_cells(int32_t seq, int32_t p0, int32_t p1) const {
  std::vector<int32_t> out;
  const SeqCells* sc = find_seq(seq);
  if (sc == nullptr) return out;
  for (int32_t p = std::max(0, p0); p < p1 && static_cast<size_t>(p) < sc->at.size(); ++p) {
    if (sc->cell_at(p) >= 0) out.push_back(sc->cell_at(p));
  }
  return out;
}

void KvCache::hold(std::span<const int32_t> cells) {
  for (int32_t c : cells) {
    if (c < 0 || c >= size() || cells_[c].pos < 0) throw std::invalid_argument("holding a free KV cell");
  }
  for (int32_t c : cells) ++cells_[c].refs;
}

void KvCache::unhold(std::span<const int32_t> cells) {
  for (int32_t c : cells) unref(c);
}

void KvCache::share(std::span<const int32_t> cells, int32_t seq, int32_t first_pos) {
  if (seq < 0 || first_pos < 0) throw std::invalid_argument("negative position or sequence id");
  const SeqCells* sc = find_seq(seq);
  for (size_t i = 0; i < cells.size(); ++i) {
    const int32_t c = cells[i];
    const int32_t pos = first_pos + static_cast<int32_t>(i);
    if (c < 0 || c >= size() || cells_[c].pos != pos) {
      throw std::invalid_argument("sharing a KV cell that does not hold position " + std::to_string(pos));
    }
    if (sc != nullptr && sc->cell_at(pos) >= 0) {
      throw std::invalid_argument("sequence " + std::to_string(seq) + " already has position " + std::to_string(pos));
    }
  }
  for (size_t i = 0; i < cells.size(); ++i) {
    const int32_t pos = first_pos + static_cast<int32_t>(i);
    tag(cells[i], seq);
    map_cell(seq, pos, cells[i]);
    // A block shared at its own offsets enters the table (read only: another sequence owns it).
    if (cells[i] % block_ == pos % block_ && cells[i] / block_ < static_cast<int32_t>(block_used_.size())) {
      std::vector<int32_t>& table = seqs_[seq].blocks;
      const size_t k = static_cast<size_t>(pos / block_);
      if (table.size() <= k) table.resize(k + 1, -1);
      table[k] = cells[i] / block_;
    }
  }
}

int32_t KvCache::seq_pos_max(int32_t seq) const {
  const SeqCells* sc = find_seq(seq);
  return sc == nullptr ? -1 : static_cast<int32_t>(sc->at.size()) - 1;
}

std::vector<int32_t> KvCache::sequences() const {
  std::vector<int32_t> out;
  for (const auto& [seq, cells] : seqs_) out.push_back(seq);
  std::sort(out.begin(), out.end());
  return out;
}

void KvCache::check_placeable(const std::vector<int32_t>& seq_ids, const std::vector<int32_t>& positions) const {
  const size_t n = seq_ids.size();
  if (positions.size() != n) throw std::invalid_argument("seq_ids and positions differ in length");
  if (static_cast<int>(n) > n_free()) {
    throw std::runtime_error("KV cache full: " + std::to_string(n) + " tokens need cells, " + std::to_string(n_free()) +
                             " of " + std::to_string(size()) + " free");
  }
  std::vector<std::pair<int32_t, int32_t>> in_batch;
  in_batch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (positions[i] < 0 || seq_ids[i] < 0) throw std::invalid_argument("negative position or sequence id");
    if (positions[i] >= kMaxPosition) {
      throw std::invalid_argument("position " + std::to_string(positions[i]) + " is out of range");
    }
    const SeqCells* sc = find_seq(seq_ids[i]);
    if (sc != nullptr && sc->cell_at(positions[i]) >= 0) {
      throw std::invalid_argument("sequence " + std::to_string(seq_ids[i]) + " already has position " +
                                  std::to_string(positions[i]));
    }
    in_batch.emplace_back(seq_ids[i], positions[i]);
  }
  std::sort(in_batch.begin(), in_batch.end());
  auto dup = std::adjacent_find(in_batch.begin(), in_batch.end());
  if (dup != in_batch.end()) {
    throw std::invalid_argument("sequence " + std::to_string(dup->first) + " already has position " +
                                std::to_string(dup->second));
  }
}

std::vector<int32_t> KvCache::place(const std::vector<int32_t>& seq_ids, const std::vector<int32_t>& positions) {
  check_placeable(seq_ids, positions);
  const size_t n = seq_ids.size();
  std::vector<int32_t> cells;
  cells.reserve(n);
  const int32_t r_size = region_size();
  int32_t next = 0;  // first-fit cursor for tokens without room in a home region
  for (size_t i = 0; i < n; ++i) {
    const int32_t seq = seq_ids[i];
    // The sequence's own block of these positions, else a free block at home; then a free cell at
    // home; then a free block anywhere; then any free cell.
    int32_t cell = block_ > 1 ? place_in_block(seq, positions[i], true) : -1;
    if (cell < 0 && has_home(seq)) {
      Home& h = homes_[seq];
      for (int32_t c = seq * r_size + h.free_from, end = seq * r_size + home_cells(seq); c < end; ++c) {
        if (cells_[c].pos < 0) {
          cell = c;
          break;
        }
      }
      // Everything below the cell taken (or the whole region, when none was free) is in use.
      h.free_from = cell < 0 ? home_cells(seq) : cell + 1 - seq * r_size;
    }
    if (cell < 0 && block_ > 1) cell = place_in_block(seq, positions[i], false);
    if (cell < 0) {
      while (cells_[next].pos >= 0) ++next;
      cell = next;
    }
    cells_[cell].pos = positions[i];
    if (cell / block_ < static_cast<int32_t>(block_used_.size())) ++block_used_[cell / block_];
    tag(cell, seq);
    map_cell(seq, positions[i], cell);
    ++used_;
    cells.push_back(cell);
  }
  return cells;
}

void KvCache::release(const std::vector<int32_t>& cells, const std::vector<int32_t>& seq_ids) {
  for (size_t i = 0; i < cells.size(); ++i) {
    const SeqCells* sc = find_seq(seq_ids[i]);
    const int32_t pos = cells_[cells[i]].pos;
    if (sc != nullptr && sc->cell_at(pos) == cells[i]) map_cell(seq_ids[i], pos, -1);
    untag(cells[i], seq_ids[i]);
  }
  std::vector<int32_t> seqs(seq_ids);
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  for (int32_t s : seqs) trim_blocks(s);
}

int KvCache::attention_span() const {
  int top = 0;
  for (int i = size() - 1; i >= 0; --i) {
    if (cells_[i].pos >= 0) {
      top = i + 1;
      break;
    }
  }
  const int padded = (top + kSpanPad - 1) / kSpanPad * kSpanPad;
  return std::clamp(padded, 1, size());
}

void KvCache::fill_mask(MaskValue* mask, int n_kv, const std::vector<int32_t>& seq_ids,
                        const std::vector<int32_t>& positions) const {
  for (size_t t = 0; t < seq_ids.size(); ++t) {
    MaskValue* row = mask + t * n_kv;
    std::fill(row, row + n_kv, kMaskClosed);
    const SeqCells* sc = find_seq(seq_ids[t]);
    if (sc == nullptr) continue;
    const size_t last = std::min(sc->at.size(), static_cast<size_t>(positions[t]) + 1);
    for (size_t p = 0; p < last; ++p) {
      const int32_t cell = sc->at[p];
      if (cell >= 0 && cell < n_kv) row[cell] = kMaskOpen;
    }
  }
}

void KvCache::set_regions(int n, int max_span) {
  if (n <= 0 || n > size()) throw std::invalid_argument("KV cache regions must be between 1 and the cell count");
  if (max_span < 1 || max_span > n) {
    throw std::invalid_argument("a home may span between 1 and " + std::to_string(n) + " regions");
  }
  n_regions_ = n;
  max_span_ = max_span;
  region_size_ = size() / n;
  // Regions of whole blocks, where each holds one at least (cells past the last region belong to
  // none, and are placed like any cell outside a home region).
  if (block_ > 1 && region_size_ >= block_) region_size_ = region_size_ / block_ * block_;
  homes_.assign(static_cast<size_t>(n), Home{});
  for (int32_t s = 0; s < n; ++s) recount_home(s);
  // free_from stays 0 (no claim about the regions' free cells): place() finds out.
}

void KvCache::set_home_span(int32_t seq, int n) {
  if (seq < 0 || seq >= n_regions_ || homes_[seq].owner >= 0) {
    throw std::logic_error("sequence " + std::to_string(seq) + " has no home region to span from");
  }
  if (n < 1 || n > max_span_ || seq + n > n_regions_ || seq % n != 0) {
    throw std::logic_error("a home of " + std::to_string(n) + " regions from region " + std::to_string(seq) +
                           " does not fit (at most " + std::to_string(max_span_) + ", " + std::to_string(n_regions_) +
                           " regions, from a multiple of its span)");
  }
  const int old = homes_[seq].span;
  for (int32_t r = seq + old; r < seq + n; ++r) {
    if (homes_[r].owner >= 0 || homes_[r].span > 1 || seq_length(r) > 0) {
      throw std::logic_error("region " + std::to_string(r) + " is in use: sequence " + std::to_string(seq) +
                             " cannot span it");
    }
  }
  for (int32_t r = seq + 1; r < seq + old; ++r) {
    homes_[r].owner = -1;
    homes_[r].free_from = 0;
    recount_home(r);
  }
  for (int32_t r = seq + 1; r < seq + n; ++r) homes_[r].owner = seq;
  homes_[seq].span = n;
  homes_[seq].free_from = 0;  // no claim about the new span's free cells: place() finds out
  recount_home(seq);
}

int KvCache::home_span(int32_t seq) const {
  return has_home(seq) ? homes_[seq].span : 0;
}

bool KvCache::in_region(int32_t cell, int32_t seq) const {
  if (!has_home(seq)) return false;
  const int32_t first = seq * region_size();
  return cell >= first && cell < first + home_cells(seq);
}

int KvCache::region_free(int32_t seq) const {
  if (!has_home(seq)) return 0;
  int n = 0;
  for (int32_t c = seq * region_size(), end = c + home_cells(seq); c < end; ++c) n += cells_[c].pos < 0 ? 1 : 0;
  return n;
}

bool KvCache::home_has_room(int32_t seq) const {
  if (!has_home(seq)) return false;
  const int32_t r_size = region_size();
  const int32_t cells = home_cells(seq);
  Home& h = homes_[seq];
  while (h.free_from < cells && cells_[seq * r_size + h.free_from].pos >= 0) ++h.free_from;
  return h.free_from < cells;
}

int KvCache::home_extent(int32_t seq) const {
  if (!has_home(seq)) return -1;
  const Home& h = homes_[seq];
  if (h.stale) recount_home(seq);
  return h.outside > 0 ? -1 : h.top;
}

int KvCache::region_window(int extent, int n_streams, int span, int first) const {
  // Cells past the home belong to other sequences (or to the spare rows) and are masked out. ggml
  // sizes a view as if it were contiguous, so the windows of all streams must fit in the storage's
  // rows from the first home on; when the padded window does not, the home itself is the window.
  const int padded = std::max(kSpanPad, (extent + kSpanPad - 1) / kSpanPad * kSpanPad);
  const int64_t rows = static_cast<int64_t>(size()) + kSpanPad - static_cast<int64_t>(first) * region_size();
  if (static_cast<int64_t>(padded) * n_streams <= rows) return padded;
  return std::max(extent, span * region_size());
}

void KvCache::fill_region_mask(MaskValue* mask, int window, std::span<const int32_t> stream_seq,
                               std::span<const int32_t> stream_pos) const {
  for (size_t r = 0; r < stream_seq.size(); ++r) {
    MaskValue* row = mask + r * window;
    std::fill(row, row + window, kMaskClosed);
    if (stream_seq[r] < 0) continue;
    const SeqCells* sc = find_seq(stream_seq[r]);
    if (sc == nullptr) continue;
    // A sequence holding exactly the first `extent` cells of its region, none past the token's
    // position (a decode step's usual case): one fill, no walk over its cells.
    const int extent = home_extent(stream_seq[r]);
    if (extent >= 0 && extent == sc->count && extent <= window &&
        static_cast<int32_t>(sc->at.size()) - 1 <= stream_pos[r]) {
      std::fill(row, row + extent, kMaskOpen);
      continue;
    }
    const int32_t base = stream_seq[r] * region_size();
    const size_t last = std::min(sc->at.size(), static_cast<size_t>(stream_pos[r]) + 1);
    for (size_t p = 0; p < last; ++p) {
      const int32_t off = sc->at[p] - base;
      if (sc->at[p] >= 0 && off >= 0 && off < window) row[off] = kMaskOpen;
    }
  }
}

bool KvCache::in_position_order(int32_t seq) const {
  const SeqCells* sc = find_seq(seq);
  if (sc == nullptr) return true;
  int32_t last = -1;
  for (int32_t cell : sc->at) {
    if (cell < 0) continue;
    if (cell < last) return false;
    last = cell;
  }
  return true;
}

int KvCache::seq_length(int32_t seq) const {
  const SeqCells* sc = find_seq(seq);
  return sc == nullptr ? 0 : sc->count;
}

int KvCache::gather_window(int32_t seq, bool padded) const {
  const int len = seq_length(seq);
  return padded ? std::max(kSpanPad, (len + kSpanPad - 1) / kSpanPad * kSpanPad) : len;
}

void KvCache::fill_seq_gather(int32_t* out, int32_t seq, int window) const {
  const SeqCells* sc = find_seq(seq);
  if (sc == nullptr) throw std::logic_error("gathering a sequence with no cells");
  int j = 0;
  int32_t first = -1;
  sc->each([&](int32_t, int32_t cell) {
    if (first < 0) first = cell;
    out[j++] = cell;
  });
  std::fill(out + j, out + window, first);
}

void KvCache::fill_seq_mask(MaskValue* mask, int window, int32_t seq, const int32_t* positions, size_t n) const {
  const SeqCells* sc = find_seq(seq);
  if (sc == nullptr) return;
  for (size_t t = 0; t < n; ++t) {
    MaskValue* row = mask + t * static_cast<size_t>(window);
    size_t j = 0;
    sc->each([&](int32_t pos, int32_t) { row[j++] = pos <= positions[t] ? kMaskOpen : kMaskClosed; });
    std::fill(row + j, row + window, kMaskClosed);
  }
}

int KvCache::run_window(int32_t seq, int extent) const {
  const int padded = std::max(kSpanPad, (extent + kSpanPad - 1) / kSpanPad * kSpanPad);
  const int64_t rows = static_cast<int64_t>(size()) + kSpanPad;
  if (static_cast<int64_t>(seq) * region_size() + padded <= rows) return padded;
  return std::max(extent, home_cells(seq));
}

bool KvCache::windows_fit(int32_t seq, int window, int n) const {
  const int64_t rows = static_cast<int64_t>(size()) + kSpanPad;
  return static_cast<int64_t>(seq) * region_size() + static_cast<int64_t>(window) * n <= rows;
}

void KvCache::fill_run_mask(MaskValue* mask, int window, int32_t seq, const int32_t* positions, size_t n) const {
  const size_t w = static_cast<size_t>(window);
  std::fill(mask, mask + n * w, kMaskClosed);
  const SeqCells* sc = find_seq(seq);
  if (sc == nullptr || n == 0) return;
  const int32_t base = seq * region_size();
  // One walk over the sequence's cells for the whole run: a row is the row before it (positions
  // rise within a run) plus the cells whose positions it newly reaches, so the cost is the mask's
  // size, not the run's length times the sequence's.
  size_t p = 0;
  for (size_t t = 0; t < n; ++t) {
    MaskValue* row = mask + t * w;
    if (t > 0) {
      if (positions[t] < positions[t - 1]) throw std::logic_error("a run's positions must rise");
      std::copy(row - w, row, row);
    }
    for (; p < sc->at.size() && static_cast<int32_t>(p) <= positions[t]; ++p) {
      const int32_t off = sc->at[p] - base;
      if (sc->at[p] >= 0 && off >= 0 && off < window) row[off] = kMaskOpen;
    }
  }
}

core::ResidencyReport KvCache::residency() const {
  return core::residency(buffers(), devs_);
}

}  // namespace rbees::model
