// Running forward passes: a batch split into graphs, each placed in the cache, built (or the last
// one reused), given its inputs, computed, and its logits or picks read back.
#include <ggml-cpu.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "core/device_fault.hpp"
#include "model/llama_model.hpp"
#include "ops/logit_mask.hpp"

namespace rbees::model {
namespace {

using Clock = std::chrono::steady_clock;

struct CaptureState {
  const std::vector<std::string>* names;
  std::map<std::string, Captured>* out;
  std::string error;
};

bool capture_callback(ggml_tensor* t, bool ask, void* user_data) {
  auto* state = static_cast<CaptureState*>(user_data);
  const std::string name = ggml_get_name(t);
  const bool wanted = std::find(state->names->begin(), state->names->end(), name) != state->names->end();
  if (ask) return wanted;
  if (!wanted) return true;
  if (t->type != GGML_TYPE_F32 || t->nb[0] != sizeof(float)) {
    state->error = "intermediate '" + name + "' is not an F32 tensor of contiguous rows";
    return true;
  }
  Captured cap;
  for (int i = 0; i < 4; ++i) cap.ne[i] = t->ne[i];
  cap.data.resize(ggml_nelements(t));
  if (ggml_is_contiguous(t)) {
    ggml_backend_tensor_get(t, cap.data.data(), 0, ggml_nbytes(t));
  } else {
    // A view of part of each row (Q, K or V of the fused product): row by row.
    const std::size_t row = static_cast<std::size_t>(t->ne[0]) * sizeof(float);
    float* out = cap.data.data();
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3) {
      for (int64_t i2 = 0; i2 < t->ne[2]; ++i2) {
        for (int64_t i1 = 0; i1 < t->ne[1]; ++i1, out += t->ne[0]) {
          ggml_backend_tensor_get(t, out, i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3], row);
        }
      }
    }
  }
  (*state->out)[name] = std::move(cap);
  return true;
}

}  // namespace

int LlamaModel::decode_bucket(int n) {
  const int granule = n <= 64 ? 8 : n <= 128 ? 16 : 32;
  return (n + granule - 1) / granule * granule;
}

std::vector<float> LlamaModel::forward(const Batch& batch, KvCache& kv) {
  const std::span<const float> rows = forward_view(batch, kv);
  return {rows.begin(), rows.end()};
}

std::span<const float> LlamaModel::forward_view(const Batch& batch, KvCache& kv,
                                                const std::function<void()>& while_computing) {
  Output out;
  const size_t n_rows = run(batch, kv, ForwardOptions{}, out, false, while_computing);
  return {host_logits(n_rows), n_rows * static_cast<size_t>(config_.n_vocab)};
}

std::span<uint64_t> LlamaModel::greedy_masks(size_t n_rows) {
  greedy_masks_.resize(std::max<size_t>(1, n_rows) * greedy_mask_words());
  return greedy_masks_;
}

std::span<const int32_t> LlamaModel::forward_greedy(const Batch& batch, KvCache& kv,
                                                    std::span<const uint64_t> row_masks) {
  if (!row_masks.empty()) {
    size_t n_rows = 0;
    for (size_t i = 0; i < batch.size(); ++i) n_rows += batch.wants_logits(i) ? 1 : 0;
    if (row_masks.size() < n_rows * greedy_mask_words()) {
      throw std::invalid_argument("fewer logit masks than rows");
    }
  }
  Output out;
  const size_t n_rows = run(batch, kv, ForwardOptions{}, out, true, {}, row_masks.empty() ? nullptr : row_masks.data());
  check_picks({greedy_ids_.data(), n_rows}, out.rows);
  return {greedy_ids_.data(), n_rows};
}

void LlamaModel::place_inputs(const Graph& g) {
  for (ggml_tensor* t :
       {g.tokens, g.positions, g.cells, g.mask, g.run_mask, g.gather, g.region_mask, g.stream_rows, g.token_streams,
        g.gathered_cells, g.gathered_mask, g.out_ids, g.logit_mask_bytes, g.logit_mask_table}) {
    if (t != nullptr) ggml_backend_sched_set_tensor_backend(sched_, t, device_.backend());
  }
}

void LlamaModel::set_input(ggml_tensor* t, const void* data, size_t bytes) {
  if (!inputs_on_device_) {
    ggml_backend_tensor_set(t, data, 0, bytes);
    return;
  }
  if (staging_ != nullptr) {
    // From pageable memory CUDA may wait for the stream before staging a copy, which would hold a
    // pass prepared while the last one computes until that one ends: copied to pinned memory first.
    InputBuffers& in = *staging_;
    if (in.staged + bytes > in.staging_bytes) throw std::logic_error("input staging overflow");
    auto* at = static_cast<uint8_t*>(in.staging->reserve(in.staging_bytes)) + in.staged;
    std::memcpy(at, data, bytes);
    in.staged += (bytes + 63) / 64 * 64;
    data = at;
  }
  ggml_backend_tensor_set_async(device_.backend(), t, data, 0, bytes);
}

void LlamaModel::set_pinned_input(ggml_tensor* t, const void* data, size_t bytes) {
  if (inputs_on_device_) {
    ggml_backend_tensor_set_async(device_.backend(), t, data, 0, bytes);
  } else {
    ggml_backend_tensor_set(t, data, 0, bytes);
  }
}

// Room in `in` for the inputs of `g` that come from pageable memory (set_input), every one aligned.
void LlamaModel::begin_staging(const Graph& g, InputBuffers& in) {
  staging_ = nullptr;
  if (!inputs_on_device_) return;
  size_t bytes = 0;
  for (const ggml_tensor* t : {g.tokens, g.positions, g.cells, g.gather, g.gathered_cells, g.stream_rows,
                               g.token_streams, g.out_ids, g.logit_mask_table}) {
    if (t != nullptr) bytes += (ggml_nbytes(t) + 63) / 64 * 64;
  }
  in.staging->reserve(bytes);  // the last pass of this set has ended: its copies are done
  in.staging_bytes = bytes;
  in.staged = 0;
  staging_ = &in;
}

void LlamaModel::upload_logit_masks(const Graph& g, const uint64_t* masks, size_t n_rows, InputBuffers& in) {
  const auto& table = ops::logit_mask_table();
  set_input(g.logit_mask_table, table.data(), sizeof(table));
  const auto n_bytes = static_cast<size_t>(ggml_nelements(g.logit_mask_bytes));
  int32_t* bytes = in.mask_bytes->reserve_as<int32_t>(n_bytes);
  ops::logit_mask_bytes(masks, greedy_mask_words(), config_.n_vocab, n_rows, bytes);
  const size_t per_row = n_bytes / static_cast<size_t>(g.shape.n_out);
  std::fill(bytes + n_rows * per_row, bytes + n_bytes, 255);
  set_pinned_input(g.logit_mask_bytes, bytes, ggml_nbytes(g.logit_mask_bytes));
}

Output LlamaModel::forward(const Batch& batch, KvCache& kv, const ForwardOptions& options) {
  Output out;
  const size_t n_rows = run(batch, kv, options, out, false);
  const float* rows = host_logits(n_rows);
  out.logits.assign(rows, rows + n_rows * static_cast<size_t>(config_.n_vocab));
  return out;
}

// Host memory for n_rows logits rows, grown as needed: pinned on a GPU, so the device copies into
// it without staging.
float* LlamaModel::host_logits(size_t n_rows) {
  return host_logits_->reserve_as<float>(std::max<size_t>(1, n_rows) * static_cast<size_t>(config_.n_vocab));
}

void LlamaModel::check_batch(const Batch& batch) const {
  const size_t n = batch.size();
  if (batch.positions.size() != n || batch.seq_ids.size() != n ||
      (!batch.want_logits.empty() && batch.want_logits.size() != n)) {
    throw std::invalid_argument("batch fields differ in length");
  }
  check_tokens(batch.tokens);
}

void LlamaModel::check_tokens(std::span<const int32_t> tokens) const {
  for (int32_t t : tokens) {
    if (t < 0 || t >= config_.n_vocab) throw std::invalid_argument("token id " + std::to_string(t) + " out of range");
  }
}

// The device's argmax finds nothing in a row of NaN or -inf only.
void LlamaModel::check_picks(std::span<const int32_t> ids, const std::vector<int32_t>& rows) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= config_.n_vocab) {
      throw std::runtime_error("the logits of batch row " + std::to_string(rows[i]) +
                               " have no greatest value (non-finite logits)");
    }
  }
}

size_t LlamaModel::run(const Batch& batch, KvCache& kv, const ForwardOptions& options, Output& out, bool greedy,
                       const std::function<void()>& while_computing, const uint64_t* row_masks) {
  check_batch(batch);
  const size_t n = batch.size();
  const size_t step = static_cast<size_t>(std::min(options_.max_graph_tokens, kv.size()));
  if (!options.capture.empty() && n > step) throw std::invalid_argument("capture needs a batch that fits one graph");
  kv.check_placeable(batch.seq_ids, batch.positions);  // before any graph touches the cache
  reserve(kv);
  size_t n_rows = 0;
  for (size_t i = 0; i < n; ++i) n_rows += batch.wants_logits(i) ? 1 : 0;
  float* logits = nullptr;
  if (greedy) {
    greedy_ids_.resize(std::max<size_t>(1, n_rows));
  } else {
    logits = host_logits(n_rows);
  }
  const size_t n_vocab = static_cast<size_t>(config_.n_vocab);
  size_t done = 0;
  for (size_t begin = 0, end = 0; begin < n; begin = end) {
    end = std::min(n, begin + step);
    if (options_.batch_invariant) {
      // Every sequence attends on its own there (no shared whole-span pass): at most kMaxRuns
      // sequences per graph, counted conservatively (decode streams included).
      int segments = 1;
      for (size_t i = begin + 1; i < end; ++i) {
        if (batch.seq_ids[i] != batch.seq_ids[i - 1] && ++segments > kMaxRuns) {
          end = i;
          break;
        }
      }
    }
    Destination dst;
    if (greedy) {
      dst.ids = greedy_ids_.data() + done;
      if (row_masks != nullptr) dst.masks = row_masks + done * greedy_mask_words();
    } else {
      dst.logits = logits + done * n_vocab;
    }
    static const std::function<void()> kNothing;
    done += forward_chunk(batch, begin, end, kv, options, out, dst, end == n ? while_computing : kNothing);
  }
  if (pipeline_) {
    const core::PassMark pass;
    ggml_backend_sched_synchronize(sched_);
  }
  return done;
}

const ggml_tensor* LlamaModel::graph_first_node() const {
  return graph_.gf == nullptr ? nullptr : ggml_graph_node(graph_.gf, 0);
}

bool LlamaModel::can_reuse_graph(const Shape& shape, const KvCache& kv) const {
  return graph_kv_id_ != 0 && graph_kv_id_ == kv.storage_id() && graph_.shape == shape;
}

void LlamaModel::prepare_chunk(const Batch& batch, size_t begin, size_t end, KvCache& kv, const ForwardOptions& options,
                               Destination dst, ChunkPass& p) {
  const auto t0 = Clock::now();
  // The inputs of this pass and of the one before alternate between two sets of host buffers: a
  // pass prepared while the last one computes leaves the memory that one's uploads read alone.
  p.inputs = &inputs_[next_inputs_];
  next_inputs_ ^= 1;
  p.begin = begin;
  p.dst = dst;
  p.n_tokens = static_cast<int>(end - begin);
  const int n_tokens = p.n_tokens;
  p.tokens.assign(batch.tokens.begin() + begin, batch.tokens.begin() + end);
  std::vector<int32_t> positions(batch.positions.begin() + begin, batch.positions.begin() + end);
  p.seqs.assign(batch.seq_ids.begin() + begin, batch.seq_ids.begin() + end);
  p.out_ids.clear();
  for (size_t i = begin; i < end; ++i) {
    if (batch.wants_logits(i)) p.out_ids.push_back(static_cast<int32_t>(i - begin));
  }

  p.cells = kv.place(p.seqs, positions);
  try {
    KvAttention attn(kv, p.seqs, positions,
                     {options_.flash_attention, options_.batch_invariant, kMaxRuns, stable_shapes_, split_runs_,
                      sparse_decode_runs()});
    // A graph with no logits still runs the layers (the cache needs them); it computes one row.
    p.none = p.out_ids.empty();
    if (p.none) p.out_ids.push_back(n_tokens - 1);
    // A decode step padded to a bucketed size (ModelOptions::pad_decode_steps): the padding tokens
    // write their keys and values into the cache's first spare row, which no cell is placed in and
    // every window masks out, and their logits rows are not read back.
    int n_pass = n_tokens;
    int real_streams = 0;  // of a padded pass: its streams with a token
    int lane = kGeneralLane;
    if (pads_decode_steps() && options.capture.empty() && n_tokens > 1 && !p.none &&
        p.out_ids.size() == static_cast<size_t>(n_tokens) && attn.all_streams()) {
      lane = pipeline_ ? kGeneralLane : kDecodeLane;
      n_pass = std::min(decode_bucket(n_tokens), std::min(options_.max_graph_tokens, kv.size()));
      n_pass = std::max(n_pass, n_tokens);
      // Each group's streams are padded as far as a bucket of the regions it covers, not over
      // every region: a placeholder stream reads no cells, but still launches a kernel block per
      // head and layer.
      real_streams = attn.layout().n_stream_tokens;
      attn.pad_streams(n_pass, decode_bucket);
      p.tokens.resize(static_cast<size_t>(n_pass), p.tokens.front());
    }
    // The padding's positions go to the graph in a copy: attn reads `positions`, the pass's own.
    std::vector<int32_t> padded_positions;
    if (n_pass > n_tokens) {
      padded_positions = positions;
      padded_positions.resize(static_cast<size_t>(n_pass), 0);
    }
    const std::vector<int32_t>& pass_positions = n_pass > n_tokens ? padded_positions : positions;
    Shape shape;
    shape.n_tokens = n_pass;
    shape.n_out = n_pass == n_tokens ? static_cast<int>(p.out_ids.size()) : n_pass;
    shape.attn = attn.layout();
    shape.argmax = dst.ids != nullptr;
    shape.argmax_masked = dst.masks != nullptr && !p.none;

    p.capturing = !options.capture.empty();
    p.lane = lane;
    use_lane(lane);
    // A pass of the same shape as the last one (decode steps, mostly) runs the same graph with new
    // inputs: no rebuild, no new split or allocation, and the device sees an identical graph.
    if (p.capturing || !can_reuse_graph(shape, kv)) {
      graph_kv_id_ = 0;
      ggml_backend_sched_reset(sched_);
      graph_ = build_graph(shape, kv);
      for (const auto& name : options.capture) {
        if (ggml_graph_get_tensor(graph_.gf, name.c_str()) == nullptr) {
          throw std::invalid_argument("no intermediate named '" + name + "' in the graph");
        }
      }
      if (!ggml_backend_sched_alloc_graph(sched_, graph_.gf)) throw std::runtime_error("could not allocate the graph");
      ++timings_.graphs_built;
      if (!p.capturing) graph_kv_id_ = kv.storage_id();
    } else if (pipeline_) {
      // The last pass of this graph may still run on the devices: its inputs are about to change.
      ggml_backend_sched_synchronize(sched_);
    }
    p.graph = graph_;
    const Graph& g = p.graph;
    ++timings_.graphs;
    timings_.gathered_tokens += static_cast<uint64_t>(shape.attn.n_gathered);
    for (const AttentionRun& r : shape.attn.runs) {
      timings_.gathered_tokens += r.gathered ? r.n_tokens : 0;
      timings_.split_run_tokens += r.half_rows > 0 ? r.n_tokens : 0;
    }
    timings_.span_tokens += static_cast<uint64_t>(shape.attn.n_general);
    if (real_streams > 0) timings_.placeholder_streams += static_cast<uint64_t>(shape.attn.n_streams - real_streams);
    const auto t1 = Clock::now();
    timings_.build_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();

    InputBuffers& in = *p.inputs;
    begin_staging(g, in);
    std::vector<int64_t> cells64(static_cast<size_t>(n_pass), kv.size());
    std::copy(p.cells.begin(), p.cells.end(), cells64.begin());
    set_input(g.positions, pass_positions.data(), ggml_nbytes(g.positions));
    set_input(g.cells, cells64.data(), ggml_nbytes(g.cells));
    const AttentionLayout& al = shape.attn;
    // What the host spends computing the attention inputs, apart from handing them over.
    auto fill = [this](auto&& f) {
      const auto f0 = Clock::now();
      f();
      timings_.fill_ms += std::chrono::duration<double, std::milli>(Clock::now() - f0).count();
    };
    if (g.mask != nullptr) {
      MaskValue* mask = in.mask->reserve_as<MaskValue>(static_cast<size_t>(al.n_kv) * al.n_general);
      fill([&] { attn.fill_general_mask(mask); });
      set_pinned_input(g.mask, mask, ggml_nbytes(g.mask));
    }
    if (g.run_mask != nullptr) {
      MaskValue* run_mask = in.run_mask->reserve_as<MaskValue>(static_cast<size_t>(al.run_mask_values));
      fill([&] { attn.fill_run_masks(run_mask); });
      set_pinned_input(g.run_mask, run_mask, ggml_nbytes(g.run_mask));
    }
    if (g.region_mask != nullptr) {
      MaskValue* region_mask = in.region_mask->reserve_as<MaskValue>(static_cast<size_t>(al.region_mask_values));
      fill([&] { attn.fill_region_mask(region_mask); });
      set_pinned_input(g.region_mask, region_mask, ggml_nbytes(g.region_mask));
    }
    if (g.gather != nullptr) {
      gather_.resize(static_cast<size_t>(al.gather_ints));
      fill([&] { attn.fill_run_gathers(gather_.data()); });
      set_input(g.gather, gather_.data(), ggml_nbytes(g.gather));
    }
    if (g.gathered_cells != nullptr) {
      const size_t n = static_cast<size_t>(al.gathered_window) * al.n_gathered;
      gathered_cells_.resize(n);
      MaskValue* gathered_mask = in.gathered_mask->reserve_as<MaskValue>(n);
      fill([&] { attn.fill_gathered(gathered_cells_.data(), gathered_mask); });
      set_input(g.gathered_cells, gathered_cells_.data(), ggml_nbytes(g.gathered_cells));
      set_pinned_input(g.gathered_mask, gathered_mask, ggml_nbytes(g.gathered_mask));
    }
    if (g.stream_rows != nullptr) {
      set_input(g.stream_rows, attn.stream_rows().data(), ggml_nbytes(g.stream_rows));
      set_input(g.token_streams, attn.token_streams().data(), ggml_nbytes(g.token_streams));
    }
    if (g.out_ids != nullptr) set_input(g.out_ids, p.out_ids.data(), ggml_nbytes(g.out_ids));
    if (g.logit_mask_bytes != nullptr) upload_logit_masks(g, dst.masks, p.out_ids.size(), in);
    staging_ = nullptr;
    timings_.upload_ms += std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
  } catch (...) {
    staging_ = nullptr;
    kv.release(p.cells, p.seqs);
    throw;
  }
}

void LlamaModel::launch_chunk(ChunkPass& p, void* capture, bool async) {
  const auto t0 = Clock::now();
  const Graph& g = p.graph;
  staging_ = p.inputs;  // the pass's room for its tokens was kept by begin_staging()
  set_input(g.tokens, p.tokens.data(), ggml_nbytes(g.tokens));
  staging_ = nullptr;
  // ggml's scheduler copies an input to another backend's split at once, expecting it set
  // already: with some ops on the CPU (layers left there, an op the device lacks), the queued
  // uploads must have landed first.
  if (inputs_on_device_ && ggml_backend_sched_get_n_splits(sched_) > 1) ggml_backend_synchronize(device_.backend());
  const auto t1 = Clock::now();
  timings_.upload_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();

  if (p.capturing) {
    ggml_backend_sched_set_eval_callback(sched_, capture_callback, capture);
  } else if (op_profile_ != nullptr) {
    ggml_backend_sched_set_eval_callback(sched_, OpProfile::callback, op_profile_);
    ++op_profile_->passes;
  }
  const ggml_status status =
      async ? ggml_backend_sched_graph_compute_async(sched_, g.gf) : ggml_backend_sched_graph_compute(sched_, g.gf);
  ggml_backend_sched_set_eval_callback(sched_, nullptr, nullptr);
  if (status != GGML_STATUS_SUCCESS) {
    if (async && !pipeline_) ggml_backend_sched_synchronize(sched_);
    graph_kv_id_ = 0;
    throw std::runtime_error("graph computation failed");
  }
  timings_.compute_ms += std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
}

// The rows of the pass's own tokens, which come first (not the padding's), to `p.dst`; with
// `async`, queued on the device's stream behind the graph.
size_t LlamaModel::read_chunk(const ChunkPass& p, Output& out, bool async) {
  if (p.none) return 0;
  const auto t0 = Clock::now();
  const Graph& g = p.graph;
  ggml_tensor* result = p.dst.ids != nullptr ? g.argmax : g.logits;
  void* into = p.dst.ids != nullptr ? static_cast<void*>(p.dst.ids) : static_cast<void*>(p.dst.logits);
  const size_t bytes = ggml_nbytes(result) / static_cast<size_t>(g.shape.n_out) * p.out_ids.size();
  if (async) {
    ggml_backend_tensor_get_async(ggml_backend_sched_get_tensor_backend(sched_, result), result, into, 0, bytes);
  } else {
    ggml_backend_tensor_get(result, into, 0, bytes);
  }
  if (p.dst.ids != nullptr) pick_first_of_ties_on_cpu(g, p.dst.ids, p.out_ids.size());
  for (int32_t id : p.out_ids) out.rows.push_back(static_cast<int32_t>(p.begin) + id);
  timings_.download_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return p.out_ids.size();
}

// ggml's CPU argmax takes the last of equal maxima; the host's samplers (and transformers' argmax)
// the first. An engine mixes the two for one sequence (steps of plain greedy rows bring back the
// graph's picks, steps with a sampled row the logits, picked on the host), so on the CPU, where the
// scores are in host memory and already computed, the picks are made here with the host's rule
// instead. Exact ties are not rare: tokens whose output rows are equal always tie.
void LlamaModel::pick_first_of_ties_on_cpu(const Graph& g, int32_t* ids, size_t n_rows) const {
  ggml_tensor* scores = g.argmax->src[0];
  ggml_backend_t backend = ggml_backend_sched_get_tensor_backend(sched_, g.argmax);
  if (backend == nullptr || !ggml_backend_is_cpu(backend) || scores->buffer == nullptr ||
      !ggml_backend_buffer_is_host(scores->buffer)) {
    return;
  }
  const auto n_vocab = static_cast<size_t>(scores->ne[0]);
  for (size_t r = 0; r < n_rows; ++r) {
    const auto* row = reinterpret_cast<const float*>(static_cast<const char*>(scores->data) + r * scores->nb[1]);
    ids[r] = static_cast<int32_t>(std::max_element(row, row + n_vocab) - row);
  }
}

size_t LlamaModel::forward_chunk(const Batch& batch, size_t begin, size_t end, KvCache& kv,
                                 const ForwardOptions& options, Output& out, Destination dst,
                                 const std::function<void()>& while_computing) {
  const core::PassMark pass;  // a remote device that stops answering is noticed (core/device_fault)
  ChunkPass p;
  prepare_chunk(batch, begin, end, kv, options, dst, p);
  try {
    // Intermediates are read while the graph runs, through the scheduler's evaluation callback: the
    // allocator reuses their memory afterwards.
    CaptureState capture{&options.capture, &out.captured, {}};
    // With pipeline parallelism the devices go on with this graph while the next one is prepared;
    // run() waits for them before the results are read.
    const bool async = pipeline_ && !p.capturing;
    // Host work given to overlap the graph needs it launched without the wait.
    const bool overlap = static_cast<bool>(while_computing) && !p.capturing;
    launch_chunk(p, &capture, async || overlap);
    if (overlap) {
      const auto t0 = Clock::now();
      try {
        while_computing();
      } catch (...) {
        ggml_backend_sched_synchronize(sched_);  // the graph still writes into the cells released below
        throw;
      }
      if (!async) ggml_backend_sched_synchronize(sched_);
      timings_.compute_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    }
    if (!capture.error.empty()) throw std::invalid_argument(capture.error);
    return read_chunk(p, out, async);
  } catch (...) {
    kv.release(p.cells, p.seqs);
    throw;
  }
}

bool LlamaModel::can_run_ahead(const Batch& batch, const KvCache& kv) const {
  return !pipeline_ && op_profile_ == nullptr && batch.size() > 0 &&
         batch.size() <= static_cast<size_t>(std::min(options_.max_graph_tokens, kv.size()));
}

void LlamaModel::prepare_ahead(const Batch& batch, KvCache& kv, bool picks) {
  if (prepared_.active) throw std::logic_error("a pass is prepared already");
  if (!can_run_ahead(batch, kv)) throw std::invalid_argument("this batch cannot run ahead");
  check_batch(batch);
  kv.check_placeable(batch.seq_ids, batch.positions);
  reserve(kv);
  size_t n_rows = 0;
  for (size_t i = 0; i < batch.size(); ++i) n_rows += batch.wants_logits(i) ? 1 : 0;
  const core::PassMark pass;
  Destination dst;
  // The set of buffers prepare_chunk() takes: its rows land there, apart from the last pass's
  // (which the engine still reads while this one computes).
  InputBuffers& in = inputs_[next_inputs_];
  if (picks) {
    dst.ids = in.ids->reserve_as<int32_t>(std::max<size_t>(1, n_rows));
  } else {
    dst.logits = in.logits->reserve_as<float>(std::max<size_t>(1, n_rows) * static_cast<size_t>(config_.n_vocab));
  }
  prepare_chunk(batch, 0, batch.size(), kv, ForwardOptions{}, dst, prepared_);
  prepared_.kv = &kv;
  prepared_.n_rows = n_rows;
  prepared_.active = true;
}

void LlamaModel::launch_ahead(std::span<const int32_t> tokens) {
  if (!prepared_.active) throw std::logic_error("no pass is prepared");
  if (launched_.active) throw std::logic_error("the launched pass was not waited for");
  ChunkPass& p = prepared_;
  if (tokens.size() != static_cast<size_t>(p.n_tokens)) throw std::invalid_argument("tokens differ from the batch");
  check_tokens(tokens);
  std::copy(tokens.begin(), tokens.end(), p.tokens.begin());
  std::fill(p.tokens.begin() + static_cast<std::ptrdiff_t>(tokens.size()), p.tokens.end(), tokens.front());
  const core::PassMark pass;
  use_lane(p.lane);
  try {
    launch_chunk(p, nullptr, true);
    // Queued behind the graph, before any later pass can reuse its memory.
    Output out;
    read_chunk(p, out, true);
  } catch (...) {
    p.kv->release(p.cells, p.seqs);
    p = ChunkPass{};
    throw;
  }
  launched_ = std::move(p);
  p = ChunkPass{};
}

LlamaModel::AheadRows LlamaModel::wait_ahead() {
  if (!launched_.active) return {};
  ChunkPass p = std::move(launched_);
  launched_ = ChunkPass{};
  const auto t0 = Clock::now();
  {
    const core::PassMark pass;
    ggml_backend_sched_synchronize(sched_);
  }
  timings_.compute_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (p.dst.logits != nullptr) return {{}, {p.dst.logits, p.n_rows * static_cast<size_t>(config_.n_vocab)}};
  ahead_ids_.assign(p.dst.ids, p.dst.ids + p.n_rows);
  check_picks(ahead_ids_, p.out_ids);  // the pass's rows are the batch's: it begins at 0
  return {ahead_ids_, {}};
}

void LlamaModel::abandon_ahead() {
  if (launched_.active) ggml_backend_sched_synchronize(sched_);
  launched_ = ChunkPass{};
  prepared_ = ChunkPass{};
}

}  // namespace rbees::model
