#include "engine/kv_sizing.hpp"

#include <algorithm>
#include <stdexcept>

namespace rbees::engine {

namespace {
// CPU defaults: a handful of sequences over a cache that fits any machine.
constexpr int kCpuMaxSeqs = 8;
constexpr int kCpuCtxSize = 8192;
// GPU: as many slots as a GPU batches well, each with a region of the cache of at least
// kGpuRegionTokens cells; a sequence that may grow longer spans several slots' regions, up to
// kGpuSlotTokens (or the model's context, if shorter), so that a short one takes little room. A
// multiple of 256 cells: the CUDA flash kernel skips a stream's masked cells only in windows of
// whole 256-cell tiles.
constexpr int kGpuMaxSeqs = 256;
constexpr int kGpuRegionTokens = 1024;
constexpr int kGpuSlotTokens = 2048;
// Kept free beside the cache for the compute buffers (logits and activations of a 512-token graph)
// and the CUDA context's own allocations.
constexpr std::size_t kGpuReserveBytes = std::size_t{2} << 30;
}  // namespace

std::size_t kv_bytes_per_token(ModelRuntime& rt, ggml_type kv_type) {
  const auto& c = rt.model().config();
  const std::size_t width = static_cast<std::size_t>(rt.model().head_dim()) * static_cast<std::size_t>(c.n_head_kv);
  return 2 * static_cast<std::size_t>(c.n_layer) * width * ggml_type_size(kv_type);
}

bool KvSizing::short_regions() const {
  return region_tokens * max_span < std::min(sequence_tokens, kGpuSlotTokens);
}

int home_max_span(int cells, int n_regions, int reach) {
  if (n_regions <= 1 || cells < n_regions) return 1;
  return std::clamp(reach / (cells / n_regions), 1, n_regions);
}

namespace {

KvSizing choose(ModelRuntime& rt, const KvSizingRequest& req, ggml_type kv_type, int block_size) {
  KvSizing s;
  s.bytes_per_token = kv_bytes_per_token(rt, kv_type);
  const int n_ctx = std::max(1, rt.context_length());
  const bool gpu = !rt.device().is_cpu();
  if (req.ctx_size && req.max_seqs) {
    s.ctx_size = *req.ctx_size;
    s.max_seqs = *req.max_seqs;
    s.basis = "given";
    return s;
  }
  if (!gpu) {
    s.ctx_size = req.ctx_size.value_or(kCpuCtxSize);
    s.max_seqs = req.max_seqs.value_or(kCpuMaxSeqs);
    s.basis = "cpu default";
    return s;
  }
  // Across several devices each holds its layers' part of every token's keys and values: the
  // device with the least room for its part bounds the cache. One device (--gpu-layers included)
  // is sized as if it held every layer's part.
  const auto& devices = rt.model().devices();
  const auto shares = rt.model().device_shares();
  const int n_layer = std::max(1, rt.model().config().n_layer);
  const double fraction = req.memory_fraction;
  if (!req.ctx_size && (fraction <= 0 || fraction > 1)) {
    throw std::invalid_argument("the KV-cache memory fraction must be in (0, 1]");
  }
  double budget = -1;  // bytes for the cache, as a whole model's layers, on the tightest device
  std::size_t free = 0, total = 0;
  if (devices.size() > 1) {
    for (size_t i = 0; i < devices.size(); ++i) {
      if (shares[i].layers == 0 || (devices[i]->is_cpu() && !devices[i]->info().is_remote)) continue;
      std::size_t f = 0;
      devices[i]->memory(&f, &total);
      const double b =
          (static_cast<double>(f) * fraction - static_cast<double>(kGpuReserveBytes)) * n_layer / shares[i].layers;
      if (budget < 0 || b < budget) {
        budget = b;
        free = f;
      }
    }
  }
  if (budget < 0) {
    rt.device().memory(&free, &total);
    budget = static_cast<double>(free) * fraction - static_cast<double>(kGpuReserveBytes);
  }
  s.device_free_bytes = free;
  s.basis = devices.size() > 1 ? "gpu memory, tightest device" : "gpu memory";
  const int slot_tokens = std::min(n_ctx, kGpuSlotTokens);
  if (req.ctx_size) {
    s.ctx_size = *req.ctx_size;
  } else {
    const double cells = budget / static_cast<double>(s.bytes_per_token);
    // More than every slot filled to the model's context would never be used.
    const double most = static_cast<double>(req.max_seqs.value_or(kGpuMaxSeqs)) * n_ctx;
    s.ctx_size = static_cast<int>(std::max(0.0, std::min(cells, most))) / block_size * block_size;
    if (s.ctx_size < block_size) {
      throw std::invalid_argument("the device has " + std::to_string(free >> 20) +
                                  " MiB free after the weights: no room for a KV cache (" +
                                  std::to_string(s.bytes_per_token) + " bytes per token)");
    }
  }
  s.max_seqs = req.max_seqs.value_or(std::clamp(s.ctx_size / std::min(slot_tokens, kGpuRegionTokens), 1, kGpuMaxSeqs));
  return s;
}

}  // namespace

KvSizing size_kv_cache(ModelRuntime& rt, const KvSizingRequest& req, ggml_type kv_type, int block_size,
                       int home_span_tokens) {
  KvSizing s = choose(rt, req, kv_type, block_size);
  s.region_tokens = s.max_seqs > 0 ? s.ctx_size / s.max_seqs : 0;
  s.sequence_tokens = std::max(1, rt.context_length());
  s.max_span = home_max_span(s.ctx_size, s.max_seqs, std::min(home_span_tokens, s.sequence_tokens));
  return s;
}

}  // namespace rbees::engine
