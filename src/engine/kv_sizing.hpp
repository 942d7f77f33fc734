#pragma once
// Sizing the KV cache and the number of sequence slots for the hardware, when the command line
// leaves them unset: on a GPU the cache takes a fraction of the memory the device has free once the
// weights are loaded (vLLM's gpu_memory_utilization), and the slots are as many as a GPU batches
// well; on the CPU the defaults stay small (its memory is shared with everything else).

#include <optional>
#include <string>

#include "engine/batch_engine.hpp"
#include "engine/model_runtime.hpp"

namespace rbees::engine {

struct KvSizingRequest {
  std::optional<int> ctx_size;   // --ctx-size; unset: sized here
  std::optional<int> max_seqs;   // --max-seqs; unset: sized here
  double memory_fraction = 0.9;  // of the device's free memory, for the cache (GPU only)
};

// What was chosen, and why, for the load log and /health.
struct KvSizing {
  int ctx_size = 0;
  int max_seqs = 0;
  std::string basis;  // "given", "cpu default" or "gpu memory"
  std::size_t bytes_per_token = 0;
  std::size_t device_free_bytes = 0;
  // Cells of each slot's home region (ctx_size / max_seqs), and the tokens a sequence may reach (the
  // model's context). A sequence that outgrows its region attends over its cells gathered (a copy of
  // its keys and values per layer and step) rather than over its region in place.
  int region_tokens = 0;
  int sequence_tokens = 0;
  // Whether regions are shorter than a sequence may grow, up to the 2048 tokens a GPU's default
  // sizing gives each slot: worth a warning at load.
  bool short_regions() const;
  // Regions a sequence's home may span (home_max_span).
  int max_span = 1;
};

// Regions a sequence's home may span (KvCache::set_regions' max_span) in a cache of `cells` cells
// split into n_regions regions: as many as `reach` tokens fill, at least one, at most n_regions.
int home_max_span(int cells, int n_regions, int reach);

// Bytes one token's keys and values take in every layer.
std::size_t kv_bytes_per_token(ModelRuntime& rt, ggml_type kv_type);

// Slots and cells for the request on the runtime's device, within its free memory now. Throws
// std::invalid_argument when the given --ctx-size cannot hold one sequence block per slot, or when
// the device has no room for even one slot of one block.
// home_span_tokens: BatchEngineOptions::home_span_tokens.
KvSizing size_kv_cache(ModelRuntime& rt, const KvSizingRequest& request, ggml_type kv_type, int block_size,
                       int home_span_tokens = 0);

}  // namespace rbees::engine
