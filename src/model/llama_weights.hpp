#pragma once
// The weight tensors of a Llama-family model on a device: created from a ModelSource with the
// shapes the config implies, uploaded from the memory-mapped views, types kept as stored unless a
// float type is asked for.

#include <ggml-backend.h>
#include <ggml.h>

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "core/device.hpp"
#include "loader/model_source.hpp"

namespace rbees::model {

struct LayerWeights {
  ggml_tensor* attn_norm = nullptr;
  ggml_tensor* wq = nullptr;
  ggml_tensor* wk = nullptr;
  ggml_tensor* wv = nullptr;
  ggml_tensor* wo = nullptr;
  ggml_tensor* bq = nullptr;
  ggml_tensor* bk = nullptr;
  ggml_tensor* bv = nullptr;
  ggml_tensor* bo = nullptr;
  ggml_tensor* ffn_norm = nullptr;
  ggml_tensor* ffn_gate = nullptr;
  ggml_tensor* ffn_up = nullptr;
  ggml_tensor* ffn_down = nullptr;
  ggml_tensor* ffn_gate_b = nullptr;
  ggml_tensor* ffn_up_b = nullptr;
  ggml_tensor* ffn_down_b = nullptr;
};

// Receives the fraction of weight bytes uploaded, in [0, 1] (the loader's LoadOptions convention).
using ProgressFn = std::function<void(float)>;

struct WeightOptions {
  // When set (F32, F16 or BF16), float matrices (F32/F16/BF16 in the file) are converted to this
  // type on upload; quantized tensors always stay as stored. One-dimensional tensors (norms,
  // biases, RoPE factors) are always F32.
  std::optional<ggml_type> float_matrix_type;
  ProgressFn progress;
};

class LlamaWeights {
 public:
  LlamaWeights(const loader::ModelSource& source, const core::Device& device, const WeightOptions& options);
  ~LlamaWeights();
  LlamaWeights(const LlamaWeights&) = delete;
  LlamaWeights& operator=(const LlamaWeights&) = delete;

  ggml_tensor* tok_embd = nullptr;
  ggml_tensor* output_norm = nullptr;
  ggml_tensor* output = nullptr;      // token_embd when the embeddings are tied
  ggml_tensor* rope_freqs = nullptr;  // per-dimension RoPE divisors, or null
  std::vector<LayerWeights> layers;

  // The device buffer of most weights; on a CPU, quantized matrices may sit in extra buffers too.
  ggml_backend_buffer_t buffer() const { return buffer_; }
  std::vector<ggml_backend_buffer_t> buffers() const;
  std::size_t bytes() const;

 private:
  ggml_context* ctx_ = nullptr;
  ggml_backend_buffer_t buffer_ = nullptr;
  // Matrices stored in a faster layout, one context and buffer per extra buffer type.
  std::map<ggml_backend_buffer_type_t, ggml_context*> extra_ctx_;
  std::vector<ggml_backend_buffer_t> extra_buffers_;
};

}  // namespace rbees::model
