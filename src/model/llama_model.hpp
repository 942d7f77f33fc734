#pragma once
// The Llama architecture (also Mistral and Qwen2, which differ only in config and biases) as a ggml
// graph over a batch of tokens from many sequences, with its weights on one device.
//
// Not thread-safe: one forward pass at a time per model. The Device must outlive the model, and a
// KvCache must come from the model that uses it.

#include <ggml-backend.h>
#include <ggml.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/device.hpp"
#include "core/host_buffer.hpp"
#include "core/residency.hpp"
#include "loader/model_source.hpp"
#include "model/batch.hpp"
#include "model/graph_identity.hpp"
#include "model/kv_attention.hpp"
#include "model/kv_cache.hpp"
#include "model/llama_weights.hpp"
#include "model/op_profile.hpp"
#include "ops/rope.hpp"

namespace rbees::model {

struct ModelOptions {
  // See WeightOptions: e.g. GGML_TYPE_F32 computes exactly from bf16 files; unset keeps types.
  std::optional<ggml_type> float_matrix_type;
  bool flash_attention = false;
  // A token's results do not depend on what else its graph holds (other sequences, prompt chunks,
  // cache layout): the CPU backend runs its reference kernels (no tiled or split flash attention, no
  // fused ops) and every product one kernel (ops::LinearOptions). CPU only, with flash attention.
  bool batch_invariant = false;
  // Decode tokens and short prompt pieces attend through ops::decode_attention_cpu where the model
  // runs on one CPU device (not in the invariant mode); off: ggml's flash kernel for every token.
  bool cpu_attention = true;
  // Repeating layers on the device, counted from the last, as llama.cpp's -ngl (see LayerPlacement);
  // unset: everything. Ignored on a CPU device.
  std::optional<int> gpu_layers;
  // Tokens per graph (llama.cpp's ubatch); a larger batch is evaluated in several graphs, in order.
  // Larger graphs make prompt evaluation faster on a GPU (fuller matrix products, each weight read
  // once for more tokens) at the price of a larger compute buffer.
  int max_graph_tokens = 512;
  // A decode step (every token a stream in its home region) is padded to a bucketed token count
  // over every home region's stream, so that steps of nearby sizes run one graph: built once, and
  // replayed as a CUDA graph on a GPU. The padding costs a few rows of every product, which a GPU's
  // decode step hides and a CPU's does not: on by default on GPUs (ModelRuntime).
  bool pad_decode_steps = false;
  // With padded decode steps: their graph keeps its shape as sequences grow, finish and start
  // (AttentionOptions::stable_shapes), which pays where an unchanged graph is replayed. Unset: on
  // a GPU; on the CPU (where rebuilding is cheap) the longer masks and the reorder cost more than
  // the rebuilds they save (bench/results/2026-12-04-amd-epyc-2c-2d4eb6c/decode-builds).
  std::optional<bool> stable_decode_shapes;
  // Q, K and V stacked into one matrix per layer, and the feed-forward gate and up into another,
  // where each group shares a type and a plain buffer (see WeightOptions::fuse_projections): fewer,
  // wider products with the same values.
  bool fused_projections = true;
  // Prompt chunks of kSplitRunMinTokens to kFlashSkipRows - 1 tokens attend as two halves of their rows
  // (AttentionOptions::split_runs), for ggml's CUDA flash kernel to skip the key tiles their causal
  // mask closes. Unset: on where every device is a CUDA one and holds every repeating layer.
  std::optional<bool> split_prompt_attention;
  // AttentionOptions::sparse_decode_max: decode steps of at most this many tokens over sparse homes
  // attend a token per run (0: never).
  int sparse_decode_runs = 0;
  // The graphs' inputs live in the device's memory, their uploads queued on its stream (see
  // LlamaModel::inputs_on_device). Unset: on where the whole model (--gpu-layers leaving no layer on
  // the CPU) is on one device other than the CPU whose backend copies asynchronously; on is refused
  // where there is no such device.
  std::optional<bool> inputs_on_device;
  ProgressFn progress;
  // Further devices the model is split across, after the constructor's (--device lists, --rpc).
  // Each repeating layer's weights and KV cache go to one device, in the --tensor-split shares
  // (empty: by free memory when every device is a local GPU, else equal), the token embedding to
  // the first device and the output layer to the last; each layer's ops are placed on its device.
  std::vector<core::Device*> more_devices;
  std::vector<float> tensor_split;
  // --split-mode row: the repeating layers' matrices split by rows over every device through
  // CUDA's split buffer type (CUDA devices only), the rest on the first device.
  bool row_split = false;
  // Several copies of the compute buffers, so that the devices of a layer split work on
  // consecutive graphs of one batch at once (ggml's pipeline parallelism). Unset: on when the model
  // is split by layer over several devices that all compute asynchronously with events.
  std::optional<bool> pipeline;
};

// One device's share of a model (load log, /health, /metrics).
struct DeviceShare {
  std::string id;         // "cpu", "cuda:1", "rpc:10.0.0.2:50052"
  std::string ggml_name;  // "CPU", "CUDA1", "RPC0"
  int layers = 0;         // repeating layers placed there
  bool input = false;     // the token embedding
  bool output = false;    // the output norm and matrix
  std::size_t weight_bytes = 0;
  std::size_t kv_bytes = 0;
};

// One intermediate tensor copied back to the host, F32, ggml shape order (ne[0] innermost).
struct Captured {
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  std::vector<float> data;
};

// Intermediates are named as the graph is built, "<what>-<layer>" inside layer blocks:
//   embd                                  token embeddings [n_embd, n_tokens]
//   attn_norm-L                           RMSNorm before attention
//   q-L, k-L, v-L                         projections before RoPE [n_head(_kv) * head_dim, n_tokens]
//                                         (GGUF llama files: Q/K rows in the file's permuted order);
//                                         with fused projections, strided views of qkv-L's rows
//   q_rope-L, k_rope-L                    after RoPE [head_dim, n_head(_kv), n_tokens]
//   attn_out_before_o-L                   attention output before the output projection
//   attn_block_out-L                      after the output projection (no residual)
//   ffn_inp-L                             residual stream after attention
//   ffn_norm-L, ffn_out-L                 RMSNorm before the FFN, SwiGLU FFN output (no residual)
//   layer_out-L                           the layer's output, residuals included
//   final_norm, logits                    rows of the tokens that want logits only
struct ForwardOptions {
  // Names of intermediates to copy back. Only for batches that fit in one graph.
  std::vector<std::string> capture;
};

// Host-side time of forward passes, split by phase, for benchmarks. compute_ms includes waiting for
// the device to finish the graph.
struct ForwardTimings {
  uint64_t graphs = 0;        // graphs evaluated
  uint64_t graphs_built = 0;  // of which were built and allocated anew (the rest reused the last one)
  double build_ms = 0;        // building the graph and allocating its tensors
  double upload_ms = 0;       // filling the inputs (tokens, positions, cells, mask)
  double fill_ms = 0;         // of which computing the attention inputs (KvAttention's fills)
  double compute_ms = 0;
  double download_ms = 0;  // copying logits back
  // Tokens by the way they attended (KvAttention): over a gathered copy of their sequence's cells
  // (gathered streams and runs), and over the cache's whole span with a mask (past the runs a graph
  // holds): the costly paths, which a serving run should rarely take.
  uint64_t gathered_tokens = 0;
  uint64_t span_tokens = 0;
  // Tokens of prompt chunks that attended as two halves (ModelOptions::split_prompt_attention).
  uint64_t split_run_tokens = 0;
  // Streams of padded decode steps without a token (regions up to a bucket of those in use).
  uint64_t placeholder_streams = 0;

  // What was spent since `earlier` (a snapshot of the same model's timings).
  ForwardTimings since(const ForwardTimings& earlier) const {
    ForwardTimings d = *this;
    d.graphs -= earlier.graphs;
    d.graphs_built -= earlier.graphs_built;
    d.build_ms -= earlier.build_ms;
    d.upload_ms -= earlier.upload_ms;
    d.fill_ms -= earlier.fill_ms;
    d.compute_ms -= earlier.compute_ms;
    d.download_ms -= earlier.download_ms;
    d.gathered_tokens -= earlier.gathered_tokens;
    d.span_tokens -= earlier.span_tokens;
    d.split_run_tokens -= earlier.split_run_tokens;
    d.placeholder_streams -= earlier.placeholder_streams;
    return d;
  }
};

struct Output {
  std::vector<float> logits;  // n_rows x n_vocab, row-major
  std::vector<int32_t> rows;  // the batch index of each logits row
  std::map<std::string, Captured> captured;
};

class LlamaModel {
 public:
  LlamaModel(const loader::ModelSource& source, core::Device& device, ModelOptions options = {});
  ~LlamaModel();
  LlamaModel(const LlamaModel&) = delete;
  LlamaModel& operator=(const LlamaModel&) = delete;

  const loader::ModelConfig& config() const { return config_; }
  int n_vocab() const { return config_.n_vocab; }
  int head_dim() const { return head_dim_; }
  bool qk_interleaved() const { return qk_interleaved_; }
  core::Device& device() const { return device_; }
  // Every device of the model, device() first.
  const std::vector<core::Device*>& devices() const { return devices_; }
  core::ResidencyReport residency() const;
  // Each device's part of the weights and of `kv` (a cache of this model), in devices() order, then
  // the CPU memory of layers --gpu-layers left there ("cpu-host") when there are any.
  // Without a cache, the weights' share only.
  std::vector<DeviceShare> device_shares(const KvCache* kv = nullptr) const;
  // Whether the scheduler keeps several copies of the compute buffers (ModelOptions::pipeline).
  bool pipeline_parallel() const { return pipeline_; }
  // Whether the graphs' inputs live in the device's memory, uploaded on its stream (one device, not
  // the CPU, with asynchronous copies: a local GPU, or a remote device whose copies are sent as
  // they are made).
  bool inputs_on_device() const { return inputs_on_device_; }
  // Whether a batch's one-token-per-sequence part attends per home region (KvCache::set_regions);
  // without it, regions would only spread the sequences over the span every token scans.
  bool attends_by_region() const { return options_.flash_attention; }
  bool batch_invariant() const { return options_.batch_invariant; }
  // Tokens one forward graph holds; a longer batch runs as several graphs.
  int max_graph_tokens() const { return options_.max_graph_tokens; }
  // What the options resolved to on this model's devices.
  bool pads_decode_steps() const { return options_.pad_decode_steps && !options_.batch_invariant; }
  bool stable_decode_shapes() const { return stable_shapes_; }
  bool splits_prompt_attention() const { return split_runs_; }
  int sparse_decode_runs() const { return options_.flash_attention ? options_.sparse_decode_runs : 0; }
  // Which layers are on the device and which on the CPU (--gpu-layers).
  const LayerPlacement& placement() const { return weights_->placement(); }
  // Ops of the last reserved graph that the scheduler placed on the CPU fallback (GPU devices only).
  int cpu_fallback_ops() const { return cpu_fallback_ops_; }

  // A cache of n_cells token slots for this model on its device.
  KvCache create_kv_cache(int n_cells, ggml_type type = GGML_TYPE_F16) const;

  // Evaluates the batch: writes every token's keys/values into `kv` and returns the logits rows of
  // the tokens that want them (batch order), n_vocab floats each.
  std::vector<float> forward(const Batch& batch, KvCache& kv);
  Output forward(const Batch& batch, KvCache& kv, const ForwardOptions& options);
  // As forward(), without copying the logits: the rows stay in the model's host buffer (pinned
  // memory on a GPU, so the device copies them at full speed) until the next pass.
  // `while_computing`, when given, runs on the calling thread once the batch's last graph is
  // launched and before the pass waits for it: host work that needs none of this pass's results
  // (the next tokens' grammar masks) then overlaps the device's. A CPU computes the graph on the
  // calling thread, so there it runs after the graph.
  std::span<const float> forward_view(const Batch& batch, KvCache& kv,
                                      const std::function<void()>& while_computing = {});
  // As forward_view(), but the graph picks each row's greatest logit and only the token ids come
  // back (batch order): for steps whose every sampler is greedy, where copying n_vocab floats per
  // row to the host and scanning them there would cost more than the pick. Among equal greatest
  // logits the device may pick any. Throws std::runtime_error when a row has no greatest logit
  // (every value NaN or -inf).
  // `row_masks`, when given, holds greedy_mask_words() words per row (batch order): a bitset of the
  // tokens the row may pick (bit t % 64 of word t / 64 set: token t allowed), a grammar's allowed
  // tokens, applied on the device. The device expands the bits itself (a byte of the bitset selects
  // one of 256 rows of 8 mask values), so a step uploads n_vocab / 2 bytes per row, not 2 n_vocab.
  std::span<const int32_t> forward_greedy(const Batch& batch, KvCache& kv, std::span<const uint64_t> row_masks = {});
  // Passes run one ahead (the engine's overlapped steps): a batch is prepared (its cells placed,
  // its graph built or reused, every input but the tokens handed over) while the pass launched
  // before it still computes; it is launched once its tokens are known (some of them chosen from
  // the previous pass's rows), and its rows are waited for later. In order: prepare_ahead(),
  // wait_ahead() for the pass before, if any, launch_ahead(), ... Only for a batch that
  // can_run_ahead(): one graph, no masks, no capture, no pipeline parallelism.
  bool can_run_ahead(const Batch& batch, const KvCache& kv) const;
  // `picks`: the graph picks each row's greatest logit (as forward_greedy()); else the logits rows
  // come back (as forward_view()).
  void prepare_ahead(const Batch& batch, KvCache& kv, bool picks = true);
  // `tokens`: the prepared batch's tokens, with the ones that were not known at preparation.
  void launch_ahead(std::span<const int32_t> tokens);
  // A pass's rows in batch order: its picks, or its logits rows (n_vocab floats each), in host
  // memory of the pass's own, valid until the pass after the next one is launched.
  struct AheadRows {
    std::span<const int32_t> picks;
    std::span<const float> logits;
  };
  // Waits for the launched pass; its rows, both empty when none is launched.
  // Throws std::runtime_error when a row has no greatest logit (as forward_greedy()).
  AheadRows wait_ahead();
  bool has_launched() const { return launched_.active; }
  // After a failure: waits for the device and forgets both passes.
  void abandon_ahead();
  // Host memory for forward_greedy()'s row masks, n_rows rows of greedy_mask_words() words, valid
  // until the next call.
  std::span<uint64_t> greedy_masks(size_t n_rows);
  size_t greedy_mask_words() const { return (static_cast<size_t>(config_.n_vocab) + 63) / 64; }

  // Copies the keys and values of cells src[i] into cells dst[i], every layer, on the device (a
  // prefix cached elsewhere in the cache moved next to the sequence that reuses it).
  void copy_cells(KvCache& kv, std::span<const int32_t> src, std::span<const int32_t> dst);

  const ForwardTimings& timings() const { return timings_; }
  // The first node of the last graph built: where ggml's CUDA backend keys that graph's CUDA graph.
  const ggml_tensor* graph_first_node() const;
  // The last graph built on the current lane, for reading its nodes' order (which ggml's GPU
  // backends fuse by: only neighbouring nodes); null before the first pass.
  const ggml_cgraph* last_graph() const { return graph_.gf; }
  // Bytes of compute buffers over every backend: the general lane's, or padded decode steps' own
  // (their lane, see use_lane); 0 for a lane not created.
  size_t compute_buffer_bytes(bool decode_lane = false) const;
  void reset_timings() { timings_ = {}; }
  // While set, every pass is timed op by op into `profile` (slower: see OpProfile); null stops it.
  void set_op_profile(OpProfile* profile) { op_profile_ = profile; }

 private:
  // Attention runs one graph may hold (its node budget is sized for them).
  static constexpr int kMaxRuns = 64;
  // A decode step's size rounded up to its bucket: a multiple of 8 up to 64, of 16 up to 128, then
  // of 32 (tokens, and the regions its streams reach).
  static int decode_bucket(int n);
  // What a graph's shape depends on: its tokens, its attention (KvAttention) and its output.
  struct Shape {
    int n_tokens = 0;
    int n_out = 0;
    AttentionLayout attn;
    bool argmax = false;         // the graph ends in each row's greatest logit (forward_greedy)
    bool argmax_masked = false;  // ... of the logits plus a mask row each (Graph::logit_mask)
    bool operator==(const Shape&) const = default;
  };
  // The inputs and output of one graph.
  struct Graph {
    Shape shape;
    ggml_cgraph* gf = nullptr;
    ggml_tensor* tokens = nullptr;          // I32 [n_tokens]
    ggml_tensor* positions = nullptr;       // I32 [n_tokens]
    ggml_tensor* cells = nullptr;           // I64 [n_tokens]: the KV cell each token writes
    ggml_tensor* mask = nullptr;            // F16 [n_kv, n_general], or null
    ggml_tensor* run_mask = nullptr;        // F16 [run_mask_values], or null
    ggml_tensor* gather = nullptr;          // I32 [gather_ints], or null
    ggml_tensor* region_mask = nullptr;     // F16 [window, 1, 1, n_streams] (one group) or [region_mask_values]
    ggml_tensor* stream_rows = nullptr;     // I32 [n_streams]: the token whose query stream r takes, group by group
    ggml_tensor* token_streams = nullptr;   // I32 [n_stream_tokens]: the stream of each such token
    ggml_tensor* gathered_cells = nullptr;  // I32 [gathered_window * n_gathered]
    ggml_tensor* gathered_mask = nullptr;   // F16 [gathered_window, 1, 1, n_gathered]
    ggml_tensor* out_ids = nullptr;         // I32 [n_out], null when every token wants logits
    ggml_tensor* logits = nullptr;          // F32 [n_vocab, n_out]
    ggml_tensor* argmax = nullptr;          // I32 [n_out], only when shape.argmax
    // Only when shape.argmax_masked: I32 [ceil(n_vocab / 8) * n_out], each byte of the rows'
    // bitsets, and F16 [8, 256], the mask values of every byte (get_rows expands one into the other).
    ggml_tensor* logit_mask_bytes = nullptr;
    ggml_tensor* logit_mask_table = nullptr;
  };
  // Where a pass puts its results: logits rows, or (ids != null) each row's greatest logit's id.
  struct Destination {
    float* logits = nullptr;
    int32_t* ids = nullptr;
    const uint64_t* masks = nullptr;  // with ids: the rows' allowed-token bitsets, or null
  };
  // Host memory the device copies a pass's inputs from (pinned on a GPU), in two sets that passes
  // take in turn: a pass prepared while the last one computes leaves that one's memory alone.
  struct InputBuffers {
    std::unique_ptr<core::HostBuffer> mask, region_mask, run_mask, gathered_mask;
    std::unique_ptr<core::HostBuffer> mask_bytes;  // the logit masks' bytes as get_rows indices
    std::unique_ptr<core::HostBuffer> ids;         // a pass run ahead: its picks
    std::unique_ptr<core::HostBuffer> logits;      // ... or its logits rows
    std::unique_ptr<core::HostBuffer> staging;     // the other inputs, copied from pageable memory
    size_t staging_bytes = 0, staged = 0;
  };
  // One graph's pass from its preparation to its results.
  struct ChunkPass {
    bool active = false;
    size_t begin = 0;  // its first batch index
    int n_tokens = 0;  // the batch's tokens in it (the graph may pad them)
    std::vector<int32_t> tokens, cells, seqs;
    std::vector<int32_t> out_ids;  // the graph rows read back
    bool none = false;             // no row wants logits (the graph computes one anyway)
    bool capturing = false;
    Graph graph;
    Destination dst;
    InputBuffers* inputs = nullptr;
    KvCache* kv = nullptr;
    size_t n_rows = 0;
    int lane = 0;  // whose scheduler allocated its graph (use_lane)
  };
  // Places the batch's tokens [begin, end) in the cache and builds (or reuses) their graph and
  // sets every input but the tokens; releases the cells if it fails.
  void prepare_chunk(const Batch& batch, size_t begin, size_t end, KvCache& kv, const ForwardOptions& options,
                     Destination dst, ChunkPass& p);
  // Sets the tokens and computes the graph (`capture`: a CaptureState for the evaluation callback).
  void launch_chunk(ChunkPass& p, void* capture, bool async);
  // The graph's picks made again from its scores with the host's rule for ties, on the CPU only.
  void pick_first_of_ties_on_cpu(const Graph& g, int32_t* ids, size_t n_rows) const;
  size_t read_chunk(const ChunkPass& p, Output& out, bool async);
  void check_batch(const Batch& batch) const;
  void check_tokens(std::span<const int32_t> tokens) const;
  // Throws where a row's pick is out of the vocabulary; `rows`: the picks' batch indices.
  void check_picks(std::span<const int32_t> ids, const std::vector<int32_t>& rows) const;
  void begin_staging(const Graph& g, InputBuffers& in);
  InputBuffers* staging_ = nullptr;  // where set_input() stages pageable data, while a pass is prepared
  Graph build_graph(const Shape& shape, KvCache& kv);
  // The graph of the last pass, built and allocated, for a pass of the same shape to run again.
  bool can_reuse_graph(const Shape& shape, const KvCache& kv) const;
  void reserve(KvCache& kv);
  void reserve_general_lane(KvCache& kv);
  void reserve_decode_lane(KvCache& kv);
  void report_cpu_fallback(ggml_cgraph* gf);
  // With inputs_on_device_: places every input of `g` on the device (before the graph's allocation).
  void place_inputs(const Graph& g);
  // Hands `bytes` of `data` to the input `t`: queued on the device's stream where the inputs live
  // there (pageable data is staged before the call returns; pinned data must stay until the pass
  // ends), else copied at once.
  void set_input(ggml_tensor* t, const void* data, size_t bytes);
  // As set_input(), for data in the device's host memory (pinned), which needs no staging.
  void set_pinned_input(ggml_tensor* t, const void* data, size_t bytes);
  // Runs the whole batch; returns the number of rows written to `dst`, their batch indices go to
  // `out.rows`.
  size_t run(const Batch& batch, KvCache& kv, const ForwardOptions& options, Output& out, bool greedy,
             const std::function<void()>& while_computing = {}, const uint64_t* row_masks = nullptr);
  size_t forward_chunk(const Batch& batch, size_t begin, size_t end, KvCache& kv, const ForwardOptions& options,
                       Output& out, Destination dst, const std::function<void()>& while_computing);
  float* host_logits(size_t n_rows);
  // Sets a masked-argmax graph's mask inputs from the rows' bitsets.
  // (n_rows: the rows with bitsets; the graph's rows past them, padding, allow every token.)
  void upload_logit_masks(const Graph& g, const uint64_t* masks, size_t n_rows, InputBuffers& in);

  // Places every node added to `gf` since `from` on `backend` (a split's layer on its device).
  void pin_nodes(ggml_cgraph* gf, int from, ggml_backend_t backend);
  // Sets up the devices of a split (devices_, the placement, row split); returns the weight options.
  WeightOptions plan_devices();

  loader::ModelConfig config_;
  core::Device& device_;
  std::vector<core::Device*> devices_;
  // With several devices split by layer: the backend of each repeating layer and of the output
  // layer, on which the graph's nodes are placed (empty: the scheduler places them by weights).
  std::vector<ggml_backend_t> layer_backends_;
  ggml_backend_t output_backend_ = nullptr;
  bool pipeline_ = false;
  bool inputs_on_device_ = false;      // see inputs_on_device()
  bool cpu_decode_attention_ = false;  // ops::decode_attention_cpu for the streams' attention
  bool stable_shapes_ = false;         // AttentionOptions::stable_shapes (ModelOptions::stable_decode_shapes)
  bool split_runs_ = false;            // AttentionOptions::split_runs (ModelOptions::split_prompt_attention)
  ModelOptions options_;
  int head_dim_ = 0;
  bool qk_interleaved_ = false;
  ops::RopeParams rope_;
  std::unique_ptr<LlamaWeights> weights_;
  core::BackendPtr cpu_backend_;  // fallback for ops the device lacks (GPU devices only)
  // Padded decode steps run on a lane of their own: a scheduler with its own compute buffers, its
  // own graph memory and the graph last built there. A prompt step in between (on the general lane)
  // then leaves the decode graph allocated as it was, and the next decode step of that shape runs
  // it as is: no rebuild or reallocation, and ggml's CUDA backend, seeing the same graph, replays
  // its CUDA graph rather than running the step kernel by kernel and capturing it again. Not with
  // pipeline parallelism, whose passes overlap on the devices.
  static constexpr int kGeneralLane = 0;
  static constexpr int kDecodeLane = 1;
  struct Lane {
    ggml_backend_sched_t sched = nullptr;
    std::vector<uint8_t> meta;
    ggml_context* ctx = nullptr;
    std::unique_ptr<GraphIdentity> identity;
    Graph graph;
    uint64_t kv_id = 0;
  };
  // Makes sched_, graph_meta_, graph_ctx_, graph_identity_, graph_ and graph_kv_id_ those of
  // `lane`, parking the other lane's (created at its first use).
  void use_lane(int lane);
  ggml_backend_sched_t new_sched();
  std::vector<ggml_backend_t> sched_backends_;
  Lane parked_;
  int lane_ = kGeneralLane;
  uint64_t decode_reserved_kv_ = 0;  // the storage_id of the cache the decode lane was reserved for
  ggml_backend_sched_t sched_ = nullptr;
  int graph_size_ = 0;
  std::vector<uint8_t> graph_meta_;  // tensor and graph metadata of the current graph
  ggml_context* graph_ctx_ = nullptr;
  std::unique_ptr<GraphIdentity> graph_identity_;  // where each graph's segments begin, per width
  int reserved_cells_ = 0;
  Graph graph_;               // the last graph built and allocated
  uint64_t graph_kv_id_ = 0;  // the storage_id of the cache graph_ uses; 0: graph_ is not reusable
  ForwardTimings timings_;
  std::unique_ptr<core::HostBuffer> host_logits_;  // the logits rows of the last pass
  std::vector<int32_t> greedy_ids_;                // the ids of the last forward_greedy()
  std::vector<uint64_t> greedy_masks_;             // forward_greedy()'s row bitsets
  InputBuffers inputs_[2];
  int next_inputs_ = 0;             // the set the next pass takes
  ChunkPass prepared_;              // run ahead: prepared, not launched
  ChunkPass launched_;              // run ahead: launched, not waited for
  std::vector<int32_t> ahead_ids_;  // the picks of the last pass waited for
  std::vector<int32_t> gather_;
  std::vector<int32_t> gathered_cells_;
  int cpu_fallback_ops_ = 0;
  OpProfile* op_profile_ = nullptr;
};

}  // namespace rbees::model
