#include "model/llama_model.hpp"

#include <ggml-cpu.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

#include "core/device_fault.hpp"
#include "core/log.hpp"

namespace rbees::model {
namespace {

ops::RopeParams rope_params(const loader::ModelConfig& c, int head_dim, bool interleaved) {
  ops::RopeParams p;
  p.n_dims = head_dim;
  p.layout = interleaved ? ops::RopeLayout::interleaved : ops::RopeLayout::neox;
  p.freq_base = c.rope.theta;
  p.n_ctx_orig = c.rope.original_context > 0 ? c.rope.original_context : c.n_ctx_train;
  switch (c.rope.scaling) {
    case loader::RopeScaling::none:
    case loader::RopeScaling::llama3:  // through the freq_factors tensor
      break;
    case loader::RopeScaling::linear: p.freq_scale = 1.0f / c.rope.factor; break;
    case loader::RopeScaling::yarn:
      p.freq_scale = 1.0f / c.rope.factor;
      p.ext_factor = 1.0f;
      break;
    case loader::RopeScaling::dynamic:
      // Dynamic NTK changes nothing within the training context; beyond it, the base would grow.
      log::warn("rope_scaling", "dynamic NTK scaling is applied as none; quality may drop beyond the training context",
                {{"n_ctx_train", c.n_ctx_train}});
      break;
  }
  return p;
}

}  // namespace

LlamaModel::LlamaModel(const loader::ModelSource& source, core::Device& device, ModelOptions options)
    : config_(source.config),
      device_(device),
      options_(std::move(options)),
      host_logits_(std::make_unique<core::HostBuffer>(device.info().dev)) {
  for (InputBuffers& in : inputs_) {
    for (auto* b : {&in.mask, &in.region_mask, &in.run_mask, &in.gathered_mask, &in.mask_bytes, &in.ids, &in.logits,
                    &in.staging}) {
      *b = std::make_unique<core::HostBuffer>(device.info().dev);
    }
  }
  const auto& c = config_;
  if (c.architecture != "llama" && c.architecture != "qwen2" && c.architecture != "mistral") {
    throw std::invalid_argument("unsupported architecture '" + c.architecture + "'");
  }
  if (c.n_layer <= 0 || c.n_embd <= 0 || c.n_vocab <= 0 || c.n_head <= 0) {
    throw std::invalid_argument("model config has non-positive sizes");
  }
  if (options_.max_graph_tokens <= 0) throw std::invalid_argument("max_graph_tokens must be positive");
  head_dim_ = c.head_dim > 0 ? c.head_dim : c.n_embd / c.n_head;
  qk_interleaved_ = source.qk_interleaved;
  rope_ = rope_params(c, head_dim_, qk_interleaved_);
  devices_.push_back(&device_);
  devices_.insert(devices_.end(), options_.more_devices.begin(), options_.more_devices.end());
  const bool split = devices_.size() > 1;
  if (options_.gpu_layers && split) {
    throw std::invalid_argument("--gpu-layers applies to one device; with several, --tensor-split places the layers");
  }
  if (options_.gpu_layers && device_.is_cpu()) {
    log::info("gpu_layers", "--gpu-layers is ignored on a CPU device: every layer is on the CPU",
              {{"gpu_layers", *options_.gpu_layers}, {"device", device_.info().id}});
    options_.gpu_layers.reset();
  }
  // Decode streams attend through our CPU op where every node runs on the CPU backend; the invariant
  // mode keeps ggml's reference kernel, whose sums it pins down.
  cpu_decode_attention_ =
      options_.cpu_attention && options_.flash_attention && !options_.batch_invariant && device_.is_cpu() && !split;
  stable_shapes_ = options_.pad_decode_steps && options_.stable_decode_shapes.value_or(!device_.is_cpu());
  // Every repeating layer's attention on a CUDA device: layers left on the CPU by --gpu-layers would
  // run the halves through ggml's CPU kernel, which skips closed tiles itself and is slower with them.
  bool all_cuda = device_.info().kind == "cuda" && (!options_.gpu_layers || *options_.gpu_layers >= c.n_layer);
  for (const core::Device* d : options_.more_devices) all_cuda = all_cuda && d->info().kind == "cuda";
  split_runs_ =
      options_.flash_attention && !options_.batch_invariant && options_.split_prompt_attention.value_or(all_cuda);

  if (options_.batch_invariant) {
    // GPU kernels choose their algorithm (and so their summation order) by batch shape, and the
    // plain attention path multiplies through tinyBLAS: neither keeps a token's result independent
    // of its batch.
    for (core::Device* d : devices_) {
      if (!d->is_cpu() || d->info().is_remote) {
        throw std::invalid_argument("batch-invariant mode is available on the CPU only, not on " + d->info().id);
      }
    }
    if (!options_.flash_attention) throw std::invalid_argument("batch-invariant mode needs flash attention");
    for (core::Device* d : devices_) ggml_backend_cpu_set_use_ref(d->backend(), true);
  }
  weights_ = std::make_unique<LlamaWeights>(source, device_, plan_devices());
  const LayerPlacement& placed = weights_->placement();
  std::string ids;
  for (core::Device* d : devices_) ids += (ids.empty() ? "" : ",") + d->info().id;
  int fused_qkv = 0, fused_gate_up = 0;
  for (const LayerWeights& L : weights_->layers) {
    fused_qkv += L.wqkv != nullptr;
    fused_gate_up += L.ffn_gate_up != nullptr;
  }
  log::info("model_weights", "model weights on device",
            {{"architecture", c.architecture},
             {"layers", c.n_layer},
             {"n_embd", c.n_embd},
             {"n_head", c.n_head},
             {"n_head_kv", c.n_head_kv},
             {"n_vocab", c.n_vocab},
             {"bytes", static_cast<unsigned long long>(weights_->bytes())},
             {"fused_qkv_layers", fused_qkv},
             {"fused_gate_up_layers", fused_gate_up},
             {"device", ids}});
  if (!placed.everything_on_device()) {
    log::info("gpu_layers", "layers split between the device and the CPU",
              {{"device", device_.info().id},
               {"gpu_layers", *options_.gpu_layers},
               {"layers_on_device", c.n_layer - placed.first_device_layer},
               {"layers_on_cpu", placed.first_device_layer},
               {"output_on_device", placed.output_on_device},
               {"token_embd_on_device", placed.input_on_device}});
  }
  core::log_residency(residency(), "weights", ids, !placed.everything_on_device());

  // The scheduler's backends: the devices' (GPUs and remote ones first, ggml's order of
  // preference), then the CPU's, which ggml wants last; a CPU backend for ops a GPU lacks when no
  // device is the CPU.
  std::vector<ggml_backend_t> backends;
  for (core::Device* d : devices_) {
    if (!d->is_cpu()) backends.push_back(d->backend());
  }
  for (core::Device* d : devices_) {
    if (d->is_cpu()) backends.push_back(d->backend());
  }
  if (!ggml_backend_is_cpu(backends.back())) {
    cpu_backend_.reset(ggml_backend_cpu_init());
    ggml_backend_cpu_set_n_threads(cpu_backend_.get(), device_.n_threads());
    backends.push_back(cpu_backend_.get());
  }
  if (split && !options_.row_split) {
    for (int il = 0; il < c.n_layer; ++il) layer_backends_.push_back(devices_[placed.device_of(il)]->backend());
    output_backend_ = devices_[placed.output_device]->backend();
  }
  // Pipeline parallelism as llama.cpp enables it: several devices split by layer, each (the CPU
  // aside) computing asynchronously with events.
  pipeline_ = split && !options_.row_split;
  for (core::Device* d : devices_) {
    if (d->is_cpu()) continue;
    ggml_backend_dev_props props;
    ggml_backend_dev_get_props(d->info().dev, &props);
    pipeline_ = pipeline_ && props.caps.async && props.caps.events;
  }
  if (options_.pipeline) pipeline_ = *options_.pipeline && split && !options_.row_split;
  // The scheduler would keep inputs in host memory and copy each to the device when the graph
  // runs, waiting for the device before each copy and for the copy itself (pageable memory); on
  // one device other than the CPU they are allocated there instead and queued ahead of the graph
  // (ggml-cuda stages pageable data before its asynchronous copy returns; ggml-rpc sends a copy of
  // the data).
  bool inputs_can_be_on_device = devices_.size() == 1 && !device_.is_cpu();
  if (inputs_can_be_on_device) {
    ggml_backend_dev_props props;
    ggml_backend_dev_get_props(device_.info().dev, &props);
    inputs_can_be_on_device = props.caps.async;
  }
  if (options_.inputs_on_device.value_or(false) && !inputs_can_be_on_device) {
    throw std::invalid_argument(
        "--inputs-on-device on needs the model on one device other than the CPU, with asynchronous copies");
  }
  // By default only where every weight is on the device too: with layers left on the CPU by
  // --gpu-layers (the token embedding among them) the inputs would travel there and back.
  inputs_on_device_ = options_.inputs_on_device.value_or(inputs_can_be_on_device && placed.everything_on_device());
  // Each layer: ~64 nodes (the batched attentions included), and ~20 more per attention run (views, permutes, gathers,
  // the kernel, the concatenation); forward_chunk keeps a graph within kMaxRuns runs.
  graph_size_ = std::max(2048, c.n_layer * (64 + 20 * kMaxRuns) + 64);
  graph_meta_.resize(ggml_tensor_overhead() * graph_size_ + ggml_graph_overhead_custom(graph_size_, false));
  // The embedding, and a normalization (two tensors) where a layer or the output opens a device segment.
  graph_identity_ = std::make_unique<GraphIdentity>(1 + 2 * (static_cast<size_t>(c.n_layer) + 1));
  sched_backends_ = backends;
  sched_ = new_sched();
  if (split) {
    for (const DeviceShare& d : device_shares()) {
      log::info("device_share", "model layers on device",
                {{"device", d.id},
                 {"ggml_device", d.ggml_name},
                 {"layers", d.layers},
                 {"token_embd", d.input},
                 {"output", d.output},
                 {"weight_bytes", static_cast<unsigned long long>(d.weight_bytes)}});
    }
    log::info("split", options_.row_split ? "model split by rows" : "model split by layers",
              {{"devices", static_cast<int>(devices_.size())},
               {"pipeline_parallel", pipeline_},
               {"pipeline_copies", ggml_backend_sched_get_n_copies(sched_)}});
  }
}

ggml_backend_sched_t LlamaModel::new_sched() {
  ggml_backend_sched_t sched = ggml_backend_sched_new(
      sched_backends_.data(), nullptr, static_cast<int>(sched_backends_.size()), graph_size_, pipeline_, true);
  if (sched == nullptr) throw std::runtime_error("could not create the ggml scheduler");
  return sched;
}

void LlamaModel::use_lane(int lane) {
  if (lane == lane_) return;
  std::swap(sched_, parked_.sched);
  std::swap(graph_meta_, parked_.meta);  // the buffers themselves stay put: the parked graph's tensors live there
  std::swap(graph_ctx_, parked_.ctx);
  std::swap(graph_identity_, parked_.identity);
  std::swap(graph_, parked_.graph);
  std::swap(graph_kv_id_, parked_.kv_id);
  lane_ = lane;
  if (sched_ != nullptr) return;
  // The decode lane's first use: buffers of its own, sized by the decode graphs it allocates.
  sched_ = new_sched();
  graph_meta_.resize(parked_.meta.size());
  graph_identity_ = std::make_unique<GraphIdentity>(1 + 2 * (static_cast<size_t>(config_.n_layer) + 1));
}

WeightOptions LlamaModel::plan_devices() {
  WeightOptions wo;
  wo.float_matrix_type = options_.float_matrix_type;
  wo.gpu_layers = options_.gpu_layers;
  wo.progress = options_.progress;
  wo.fuse_projections = options_.fused_projections;
  const int n = static_cast<int>(devices_.size());
  if (!options_.tensor_split.empty() && static_cast<int>(options_.tensor_split.size()) != n) {
    throw std::invalid_argument("--tensor-split has " + std::to_string(options_.tensor_split.size()) + " shares for " +
                                std::to_string(n) + " devices");
  }
  if (options_.row_split) {
    // ggml's CUDA backend offers a buffer type whose matrices are split by rows over its devices.
    std::array<float, 16> shares{};
    int main_index = -1;
    for (int i = 0; i < n; ++i) {
      const core::DeviceInfo& info = devices_[i]->info();
      if (info.kind != "cuda") {
        throw std::invalid_argument("--split-mode row needs CUDA devices (ggml's split buffer type), not " + info.id);
      }
      const int index = std::stoi(info.id.substr(info.id.find(':') + 1));
      if (index >= static_cast<int>(shares.size()))
        throw std::invalid_argument("too many CUDA devices for a row split");
      if (main_index < 0) main_index = index;
      shares[index] = options_.tensor_split.empty() ? 1.0f : options_.tensor_split[i];
    }
    using SplitType = ggml_backend_buffer_type_t (*)(int, const float*);
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(device_.info().dev);
    auto split_type =
        reinterpret_cast<SplitType>(ggml_backend_reg_get_proc_address(reg, "ggml_backend_split_buffer_type"));
    if (split_type == nullptr)
      throw std::invalid_argument("--split-mode row: this build's CUDA backend has no split buffer type");
    wo.row_split_type = split_type(main_index, shares.data());
    return wo;
  }
  if (n == 1) return wo;
  std::vector<float> shares = options_.tensor_split;
  if (shares.empty()) {
    // By free memory when every device is a local GPU (as llama.cpp), else equal: a CPU's or a
    // remote host's free memory says little about what it should compute.
    bool local_gpus = true;
    for (core::Device* d : devices_) local_gpus = local_gpus && !d->is_cpu() && !d->info().is_remote;
    for (core::Device* d : devices_) {
      std::size_t free = 0, total = 0;
      if (local_gpus) d->memory(&free, &total);
      shares.push_back(local_gpus ? static_cast<float>(free) : 1.0f);
    }
  }
  wo.placement = split_layers(config_.n_layer, shares);
  for (core::Device* d : devices_) wo.devices.push_back(d);
  return wo;
}

LlamaModel::~LlamaModel() {
  for (ggml_backend_sched_t sched : {sched_, parked_.sched}) {
    if (sched != nullptr) ggml_backend_sched_free(sched);
  }
  for (ggml_context* ctx : {graph_ctx_, parked_.ctx}) {
    if (ctx != nullptr) ggml_free(ctx);
  }
}

core::ResidencyReport LlamaModel::residency() const {
  std::vector<ggml_backend_dev_t> devs;
  for (core::Device* d : devices_) devs.push_back(d->info().dev);
  return core::residency(weights_->buffers(), devs);
}

std::vector<DeviceShare> LlamaModel::device_shares(const KvCache* kv) const {
  const LayerPlacement& p = weights_->placement();
  std::vector<DeviceShare> out;
  for (int i = 0; i < static_cast<int>(devices_.size()); ++i) {
    DeviceShare d;
    d.id = devices_[i]->info().id;
    d.ggml_name = devices_[i]->info().ggml_name;
    for (int il = 0; il < config_.n_layer; ++il) d.layers += p.device_of(il) == i ? 1 : 0;
    d.input = p.input_on_device && i == 0;
    d.output = p.output_on_device && i == (p.layer_devices.empty() ? 0 : p.output_device);
    d.weight_bytes = weights_->bytes_on(i);
    d.kv_bytes = kv != nullptr ? kv->bytes_on(i) : 0;
    out.push_back(d);
  }
  if (p.first_device_layer > 0 || !p.input_on_device || !p.output_on_device) {
    DeviceShare host;
    host.id = "cpu-host";
    host.ggml_name = "CPU";
    host.layers = p.first_device_layer;
    host.input = !p.input_on_device;
    host.output = !p.output_on_device;
    host.weight_bytes = weights_->bytes_on(-1);
    host.kv_bytes = kv != nullptr ? kv->bytes_on(-1) : 0;
    out.push_back(host);
  }
  return out;
}

KvCache LlamaModel::create_kv_cache(int n_cells, ggml_type type) const {
  const int n_embd_kv = head_dim_ * config_.n_head_kv;
  const LayerPlacement& p = weights_->placement();
  std::vector<const core::Device*> devs(devices_.begin(), devices_.end());
  std::vector<int> layer_devices;
  layer_devices.reserve(static_cast<size_t>(config_.n_layer));
  for (int il = 0; il < config_.n_layer; ++il) layer_devices.push_back(p.device_of(il));
  KvCache kv(devs, layer_devices, n_embd_kv, n_embd_kv, n_cells, type);
  std::vector<ggml_backend_dev_t> ggml_devs;
  std::string ids;
  for (core::Device* d : devices_) {
    ggml_devs.push_back(d->info().dev);
    ids += (ids.empty() ? "" : ",") + d->info().id;
  }
  core::log_residency(core::residency(kv.buffers(), ggml_devs), "kv_cache", ids, p.first_device_layer > 0);
  if (devices_.size() > 1) {
    for (const DeviceShare& d : device_shares(&kv)) {
      log::info("device_share", "KV cache on device",
                {{"device", d.id}, {"layers", d.layers}, {"kv_bytes", static_cast<unsigned long long>(d.kv_bytes)}});
    }
  }
  return kv;
}

// Sizes the compute buffers for the largest graph this cache allows, so that later passes
// (one-token decode steps above all) allocate nothing.
void LlamaModel::reserve(KvCache& kv) {
  reserve_general_lane(kv);
  reserve_decode_lane(kv);
}

void LlamaModel::reserve_general_lane(KvCache& kv) {
  if (kv.size() <= reserved_cells_) return;
  use_lane(kGeneralLane);
  const int n_tokens = std::min(options_.max_graph_tokens, kv.size());
  graph_kv_id_ = 0;
  ggml_backend_sched_reset(sched_);
  Shape shape;
  shape.n_tokens = n_tokens;
  shape.n_out = n_tokens;
  shape.argmax = true;  // a superset of the graph without it
  shape.attn.n_kv = kv.size();
  shape.attn.runs = {AttentionRun{0, n_tokens, -1, 0, 0}};
  shape.attn.n_general = n_tokens;
  Graph g = build_graph(shape, kv);
  if (!ggml_backend_sched_reserve(sched_, g.gf)) throw std::runtime_error("could not reserve compute buffers");
  reserved_cells_ = kv.size();
  report_cpu_fallback(g.gf);
  for (int i = 0; i < ggml_backend_sched_get_n_backends(sched_); ++i) {
    ggml_backend_t b = ggml_backend_sched_get_backend(sched_, i);
    log::debug("compute_buffer", "compute buffer reserved",
               {{"backend", ggml_backend_name(b)},
                {"bytes", static_cast<unsigned long long>(ggml_backend_sched_get_buffer_size(sched_, b))}});
  }
}

// The decode lane's buffers for the widest padded decode step the cache's regions allow (a stream
// per region, each over a whole region, as many tokens as a graph holds), so that a device short
// of memory fails at the first pass (a server's load), not at the first decode step. A later step
// that needs more (homes of several regions) still grows them.
void LlamaModel::reserve_decode_lane(KvCache& kv) {
  const int n_regions = kv.n_regions();
  if (!options_.pad_decode_steps || options_.batch_invariant || pipeline_ || n_regions <= 1 ||
      kv.storage_id() == decode_reserved_kv_) {
    return;
  }
  const int back = lane_;
  use_lane(kDecodeLane);
  graph_kv_id_ = 0;
  ggml_backend_sched_reset(sched_);
  Shape shape;
  shape.n_tokens = std::min({decode_bucket(n_regions), options_.max_graph_tokens, kv.size()});
  shape.n_out = shape.n_tokens;
  shape.argmax = true;  // a superset of the graph without it
  const StreamGroup group{1, n_regions, kv.region_window(kv.region_size(), n_regions), 0};
  shape.attn.groups = {group};
  shape.attn.n_streams = n_regions;
  shape.attn.n_stream_tokens = shape.n_tokens;
  shape.attn.region_mask_values = group.window * n_regions;
  shape.attn.streams_in_order = false;
  const Graph g = build_graph(shape, kv);
  const bool reserved = ggml_backend_sched_reserve(sched_, g.gf);
  use_lane(back);
  if (!reserved) throw std::runtime_error("could not reserve the decode steps' compute buffers");
  decode_reserved_kv_ = kv.storage_id();
}

size_t LlamaModel::compute_buffer_bytes(bool decode_lane) const {
  const int lane = decode_lane ? kDecodeLane : kGeneralLane;
  const ggml_backend_sched_t sched = lane == lane_ ? sched_ : parked_.sched;
  if (sched == nullptr) return 0;
  size_t bytes = 0;
  for (int i = 0; i < ggml_backend_sched_get_n_backends(sched); ++i) {
    bytes += ggml_backend_sched_get_buffer_size(sched, ggml_backend_sched_get_backend(sched, i));
  }
  return bytes;
}

void LlamaModel::copy_cells(KvCache& kv, std::span<const int32_t> src, std::span<const int32_t> dst) {
  if (src.size() != dst.size()) throw std::invalid_argument("copy_cells: source and destination differ in length");
  reserve(kv);
  const core::PassMark pass;
  // In pieces of at most a graph's tokens, so that the rows in flight fit the reserved buffers.
  use_lane(kGeneralLane);
  const size_t step = static_cast<size_t>(std::max(1, options_.max_graph_tokens));
  for (size_t begin = 0; begin < src.size(); begin += step) {
    const int64_t n = static_cast<int64_t>(std::min(step, src.size() - begin));
    graph_kv_id_ = 0;  // the graph below replaces the last forward graph
    ggml_backend_sched_reset(sched_);
    if (graph_ctx_ != nullptr) ggml_free(graph_ctx_);
    graph_ctx_ = ggml_init({graph_meta_.size(), graph_meta_.data(), true});
    ggml_context* ctx = graph_ctx_;
    ggml_cgraph* gf = ggml_new_graph_custom(ctx, graph_size_, false);
    ggml_tensor* from = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n);
    ggml_tensor* to = ggml_new_tensor_1d(ctx, GGML_TYPE_I64, n);
    ggml_set_input(from);
    ggml_set_input(to);
    for (int il = 0; il < config_.n_layer; ++il) {
      for (ggml_tensor* t : {kv.k(il), kv.v(il)}) {
        ggml_build_forward_expand(gf, ggml_set_rows(ctx, t, ggml_get_rows(ctx, t, from), to));
      }
    }
    if (!ggml_backend_sched_alloc_graph(sched_, gf)) throw std::runtime_error("could not allocate the KV copy graph");
    std::vector<int64_t> to64(dst.begin() + static_cast<std::ptrdiff_t>(begin),
                              dst.begin() + static_cast<std::ptrdiff_t>(begin) + n);
    ggml_backend_tensor_set(from, src.data() + begin, 0, ggml_nbytes(from));
    ggml_backend_tensor_set(to, to64.data(), 0, ggml_nbytes(to));
    if (ggml_backend_sched_graph_compute(sched_, gf) != GGML_STATUS_SUCCESS) {
      throw std::runtime_error("KV copy failed");
    }
  }
}

// On a GPU every op must run on the GPU: an op its backend cannot run would silently go to the CPU
// fallback through the scheduler, costing a device round trip per split. Say so once, loudly, unless
// --gpu-layers left layers on the CPU: their ops run there by design.
void LlamaModel::report_cpu_fallback(ggml_cgraph* gf) {
  if (cpu_backend_ == nullptr) return;
  std::map<std::string, int> ops;
  for (int i = 0; i < ggml_graph_n_nodes(gf); ++i) {
    ggml_tensor* node = ggml_graph_node(gf, i);
    switch (node->op) {
      case GGML_OP_NONE:
      case GGML_OP_VIEW:
      case GGML_OP_RESHAPE:
      case GGML_OP_PERMUTE:
      case GGML_OP_TRANSPOSE: continue;  // no computation
      default: break;
    }
    if (ggml_backend_sched_get_tensor_backend(sched_, node) == cpu_backend_.get()) ++ops[ggml_op_desc(node)];
  }
  const int splits = ggml_backend_sched_get_n_splits(sched_);
  cpu_fallback_ops_ = 0;
  std::string list;
  for (const auto& [op, count] : ops) {
    cpu_fallback_ops_ += count;
    list += (list.empty() ? "" : ",") + op + "x" + std::to_string(count);
  }
  if (cpu_fallback_ops_ > 0 && !weights_->placement().everything_on_device()) {
    log::info("graph_placement", "ops of the layers --gpu-layers left on the CPU run there",
              {{"device", device_.info().id}, {"ops", list}, {"graph_splits", splits}});
  } else if (cpu_fallback_ops_ > 0) {
    log::warn("cpu_fallback", "ops of the model graph run on the CPU, not on the requested device",
              {{"device", device_.info().id}, {"ops", list}, {"graph_splits", splits}});
  } else {
    log::info("graph_placement", "every op of the model graph runs on the requested device",
              {{"device", device_.info().id}, {"graph_splits", splits}});
  }
}

}  // namespace rbees::model
