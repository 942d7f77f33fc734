#pragma once
// The weight tensors of a Llama-family model on a device: created from a ModelSource with the
// shapes the config implies, uploaded from the memory-mapped views, types kept as stored unless a
// float type is asked for. With --gpu-layers, the layers left on the CPU get CPU buffers (extra
// buffer types for quantized matrices, as a CPU device would).

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

// With fused projections, wq/wk/wv are row views of wqkv (and bq/bk/bv of bqkv), ffn_gate/ffn_up of
// ffn_gate_up: the graph multiplies by the fused tensor once. Null fused tensors: separate products.
struct LayerWeights {
  ggml_tensor* attn_norm = nullptr;
  ggml_tensor* wqkv = nullptr;
  ggml_tensor* bqkv = nullptr;
  ggml_tensor* ffn_gate_up = nullptr;
  ggml_tensor* ffn_gate_up_b = nullptr;
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

// Which parts of the model live on the requested device, following llama.cpp's -ngl: the last
// `gpu_layers` repeating layers; the output norm and matrix count as one more layer after them, so
// they join only when gpu_layers > n_layer. The token embedding stays on the CPU (its row lookup is
// cheap there) unless everything is on the device.
//
// Across several devices (split_layers) every part is on one of the model's devices: repeating
// layer il on layer_devices[il], the token embedding on the first, the output norm and matrix on
// the last, as llama.cpp places them.
struct LayerPlacement {
  int first_device_layer = 0;      // repeating layers il >= this are on the device
  bool input_on_device = true;     // token embedding
  bool output_on_device = true;    // output norm and output matrix
  std::vector<int> layer_devices;  // per repeating layer, an index into the model's devices; empty: 0
  int output_device = 0;           // the output norm and matrix's device (input: device 0)

  bool layer_on_device(int il) const { return il >= first_device_layer; }
  bool everything_on_device() const { return first_device_layer == 0 && input_on_device && output_on_device; }
  // The model device of repeating layer il, or -1 for the CPU (left there by --gpu-layers).
  int device_of(int il) const {
    if (!layer_on_device(il)) return -1;
    return layer_devices.empty() ? 0 : layer_devices[il];
  }
  int n_devices() const { return layer_devices.empty() ? 1 : output_device + 1; }
  bool operator==(const LayerPlacement&) const = default;
};

// The placement of n_layer repeating layers over devices in the given proportions (--tensor-split,
// one positive share per device, at least one), as llama.cpp splits by layer: layer il goes to the
// first device whose cumulative share exceeds il / n_layer. A device may get no layer. Throws
// std::invalid_argument on a negative share or a zero sum.
LayerPlacement split_layers(int n_layer, const std::vector<float>& shares);

// The placement of a model of n_layer repeating layers: everything on the device when gpu_layers is
// unset or covers the output layer too (gpu_layers > n_layer). Throws std::invalid_argument when
// gpu_layers is negative.
LayerPlacement place_layers(int n_layer, std::optional<int> gpu_layers);

struct WeightOptions {
  // When set (F32, F16 or BF16), float matrices (F32/F16/BF16 in the file) are converted to this
  // type on upload; quantized tensors always stay as stored. One-dimensional tensors (norms,
  // biases, RoPE factors) are always F32.
  std::optional<ggml_type> float_matrix_type;
  // Repeating layers on the device (see LayerPlacement); unset: everything. The parts left out go to
  // CPU buffers, whatever the device (the model drops this option on a CPU device).
  std::optional<int> gpu_layers;
  ProgressFn progress;
  // Several devices (split_layers): `placement` says where each part goes, `devices` are the
  // model's devices (the constructor's device first). Empty: one device.
  std::vector<const core::Device*> devices;
  std::optional<LayerPlacement> placement;
  // --split-mode row: the repeating layers' matrices in this buffer type (CUDA's split buffer type,
  // which splits their rows over the GPUs), everything else on the first device.
  ggml_backend_buffer_type_t row_split_type = nullptr;
  // Q, K and V (and gate and up) stored as one matrix each, where they share a type and a plain
  // buffer: one product per group instead of three (two) for every step, with the same values.
  bool fuse_projections = true;
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

  const LayerPlacement& placement() const { return placement_; }
  // The device buffer of most weights (null when nothing is on the device); on a CPU, quantized
  // matrices may sit in extra buffers too, and layers left on the CPU sit in CPU buffers.
  ggml_backend_buffer_t buffer() const { return buffer_; }
  std::vector<ggml_backend_buffer_t> buffers() const;
  std::size_t bytes() const;
  // Bytes of weights on model device `device` (-1: CPU buffers --gpu-layers left).
  std::size_t bytes_on(int device) const;

 private:
  LayerPlacement placement_;
  ggml_context* ctx_ = nullptr;
  ggml_backend_buffer_t buffer_ = nullptr;
  // Tensors in other buffer types than the device's, or on other devices: matrices stored in a
  // faster layout (extra CPU buffer types), the layers left on the CPU (device -1) and the parts on
  // the model's further devices; one context and buffer per device and buffer type.
  std::map<std::pair<int, ggml_backend_buffer_type_t>, ggml_context*> extra_ctx_;
  std::vector<ggml_backend_buffer_t> extra_buffers_;
  std::vector<int> extra_devices_;  // the device of each extra buffer
};

}  // namespace rbees::model
