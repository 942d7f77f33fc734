#pragma once
// What a loader hands to the model: hyperparameters and a set of weight tensors named the GGUF way
// ("token_embd.weight", "blk.N.attn_q.weight", ...), each pointing into memory-mapped file data.
// Loaders for Hugging Face directories (safetensors) and GGUF files both produce this.

#include <ggml.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rbees::loader {

enum class RopeScaling { none, linear, dynamic, yarn, llama3 };

struct RopeConfig {
  float theta = 10000.0f;
  RopeScaling scaling = RopeScaling::none;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;   // llama3
  float high_freq_factor = 4.0f;  // llama3
  int original_context = 0;       // original_max_position_embeddings
};

struct ModelConfig {
  std::string architecture;  // "llama" or "qwen2" (GGUF naming)
  int n_vocab = 0;
  int n_embd = 0;  // hidden_size
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;     // n_embd / n_head unless given
  int n_ff = 0;         // intermediate_size
  int n_ctx_train = 0;  // max_position_embeddings
  float rms_norm_eps = 1e-5f;
  RopeConfig rope;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v bias (Qwen2 always)
  bool attention_out_bias = false;
  bool mlp_bias = false;
  std::optional<int> bos_token_id;
  std::vector<int> eos_token_ids;
  std::string source_dtype;  // "bf16", "f16", "f32", "q8_0", "mixed", ...
};

// One weight tensor as stored in the file. Shapes use ggml's order: ne[0] is the innermost
// (contiguous) dimension, so a Hugging Face [out, in] matrix has ne = {in, out}.
struct TensorView {
  std::string name;  // GGUF-style name
  ggml_type type = GGML_TYPE_F32;
  int64_t ne[4] = {1, 1, 1, 1};
  int n_dims = 0;
  const void* data = nullptr;  // inside a mapping owned by the ModelSource
  std::size_t nbytes = 0;
  std::string file;         // for error messages
  std::string source_name;  // the name inside the file when it differs (Hugging Face names)
};

// Keeps the file mappings alive; tensors point into them.
class Mapping {
 public:
  virtual ~Mapping() = default;
};

struct ModelSource {
  ModelConfig config;
  std::map<std::string, TensorView> tensors;
  // GGUF files written by llama.cpp's converter store Q/K rows permuted for the interleaved
  // (GGML_ROPE_TYPE_NORMAL) rotation; Hugging Face weights use the NeoX half-split rotation.
  bool qk_interleaved = false;
  std::vector<std::shared_ptr<Mapping>> mappings;
  std::string path;  // the directory or file it came from

  const TensorView* find(const std::string& name) const {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
  }
};

}  // namespace rbees::loader
