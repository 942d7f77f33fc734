#pragma once
// The single-sequence generation path: one prompt, prefilled then decoded token by token on its own
// KV cache, text streamed to a callback as it becomes final. The batch engine runs the same per-
// sequence logic (Sequence) for many prompts at once.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/finish_reason.hpp"
#include "engine/model_runtime.hpp"
#include "engine/sequence.hpp"
#include "model/kv_cache.hpp"
#include "sampling/sampling_params.hpp"

namespace rbees::engine {

struct GenerationRequest {
  std::vector<int32_t> prompt;  // token ids, BOS included when the tokenizer adds one
  sampling::SamplingParams sampling;
  std::optional<int> max_tokens;  // none: until the context is full
  bool ignore_eos = false;
  std::vector<std::string> stop;
};

struct GenerationResult {
  int prompt_tokens = 0;
  int generated_tokens = 0;
  std::vector<int32_t> tokens;  // the generated ids
  double prefill_ms = 0;        // prompt evaluation up to the first token's logits
  double decode_ms = 0;         // every later forward pass and sampling
  FinishReason finish = FinishReason::none;
  std::optional<std::string> stop_matched;
};

using TextFn = std::function<void(std::string_view)>;

// Budget of one sequence: max_tokens when it fits in the context, otherwise the context's room
// (ending with context_length).
ContinuationLimits continuation_limits(int n_prompt, std::optional<int> max_tokens, int context_limit, bool ignore_eos,
                                       std::vector<std::string> stop);

class Generator {
 public:
  // n_ctx: tokens one sequence may hold (0: the model's context length). greedy_on_device: whether a
  // plain greedy sequence's tokens are picked by the model's graph (LlamaModel::forward_greedy)
  // rather than from logits copied to the host; unset: on a GPU (as BatchEngineOptions).
  explicit Generator(ModelRuntime& runtime, int n_ctx = 0, ggml_type kv_type = GGML_TYPE_F16,
                     std::optional<bool> greedy_on_device = std::nullopt);

  int context_limit() const { return n_ctx_; }
  // Throws std::invalid_argument when the prompt leaves no room in the context.
  GenerationResult generate(const GenerationRequest& request, const TextFn& on_text);

 private:
  ModelRuntime& rt_;
  // One forward pass of batch_ and the choice of the next token from it.
  TokenResult step(Sequence& seq);

  int n_ctx_;
  bool greedy_on_device_;
  model::KvCache kv_;
  model::Batch batch_;
};

}  // namespace rbees::engine
