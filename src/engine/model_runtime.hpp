#pragma once
// Everything generation needs from one model, loaded together: the device, the model's weights on
// it and the tokenizer. The engine and the generate/bench commands start from this.

#include <ggml.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_template.hpp"
#include "core/device.hpp"
#include "model/llama_model.hpp"
#include "tokenizer/tokenizer.hpp"

namespace rbees::engine {

struct RuntimeOptions {
  std::string model_path;       // a Hugging Face directory or a GGUF file
  std::string device = "auto";  // as --device takes it: one device or a comma-separated list
  int threads = 0;              // CPU threads (0: one per physical core)
  // Converts float weight matrices on upload (see model::ModelOptions); unset keeps the file's types,
  // except bf16, which becomes f16.
  std::optional<ggml_type> float_matrix_type;
  // Flash attention: on, off, or (unset) on for the CPU and for a GPU whose backend has a
  // flash-attention kernel for this model's head size.
  std::optional<bool> flash_attention;
  // Quantizes the weight matrices in memory before upload (loader::quantize_source): q8_0, q4_0,
  // q4_K or f16. Unset: the file's types.
  std::optional<ggml_type> quant;
  // Repeating layers on the device, counted from the last, as llama.cpp's -ngl (the output layer
  // counts as one more); the rest on the CPU. Unset: everything on the device. Ignored on a CPU.
  std::optional<int> gpu_layers;
  // A request's greedy tokens do not depend on what else is batched with it (model::ModelOptions).
  // CPU only; implies flash attention.
  bool batch_invariant = false;
  // Tokens one forward graph holds (model::ModelOptions::max_graph_tokens). Unset: 2048 on a GPU,
  // 512 on the CPU (see kDefaultGraphTokens*).
  std::optional<int> max_graph_tokens;
  // Decode steps padded to bucketed sizes (model::ModelOptions::pad_decode_steps). Unset: on a GPU.
  std::optional<bool> decode_buckets;
  // Q/K/V and gate/up as stacked matrices (model::ModelOptions::fused_projections). Unset: on, on
  // every device (bench/results/2026-12-04-nvidia-h200-b7c2da4 on an H200).
  std::optional<bool> fused_projections;
  // Prompt chunks attend as two halves of their rows (model::ModelOptions::split_prompt_attention).
  // Unset: on CUDA devices.
  std::optional<bool> split_prompt_attention;
  // Padded decode steps keep their graph's shape as sequences grow (model::ModelOptions::
  // stable_decode_shapes). Unset: on a GPU.
  std::optional<bool> stable_decode_shapes;
  // Sparse decode steps of at most this many tokens attend a token per run
  // (model::ModelOptions::sparse_decode_runs); 0: never.
  int sparse_decode_runs = 0;
  // The graphs' inputs in the device's memory (model::ModelOptions::inputs_on_device). Unset: where
  // the whole model is on one device other than the CPU.
  std::optional<bool> inputs_on_device;
  // A Jinja chat template file used instead of the model's own; empty: the model's.
  std::string chat_template_path;
  // Remote devices (ggml-rpc servers, "HOST:PORT"), added after the --device ones.
  std::vector<std::string> rpc;
  // How long an rpc server may take to accept the connection and answer the handshake at start-up.
  std::chrono::milliseconds rpc_connect_timeout{5000};
  // How long a pass may wait on the devices while remote ones are in use before they count as lost
  // (core/device_fault).
  std::chrono::milliseconds rpc_pass_timeout{60000};
  // Across several devices: "layer" (each layer on one device) or "row" (CUDA's split buffer type),
  // and each device's share (empty: by free memory on local GPUs, else equal).
  std::string split_mode = "layer";
  std::vector<float> tensor_split;
};

// What a forward graph holds by default. On a GPU, 2048-token graphs evaluate prompts faster than
// 512 (bench/results: prefill by graph size); on the CPU, the products' speed hardly changes past
// 512 and a larger graph only delays the decodes that share a step.
inline constexpr int kDefaultGraphTokensGpu = 2048;
inline constexpr int kDefaultGraphTokensCpu = 512;

class ModelRuntime {
 public:
  // Throws loader::LoadError, std::invalid_argument or std::runtime_error naming the problem.
  static std::unique_ptr<ModelRuntime> load(const RuntimeOptions& options);

  // The first device; devices() lists them all (a model split across several).
  core::Device& device() { return *devices_.front(); }
  const std::vector<std::unique_ptr<core::Device>>& devices() const { return devices_; }
  bool has_remote_devices() const;
  model::LlamaModel& model() { return *model_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  // The model's chat template, or null when it has none.
  const chat::ChatTemplate* chat_template() const { return chat_template_.get(); }
  const loader::ModelConfig& config() const { return model_->config(); }
  // The model directory's or file's name, as /v1/models lists it.
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  // The most tokens one sequence may hold: the model's trained context.
  int context_length() const;

 private:
  ModelRuntime() = default;
  std::vector<std::unique_ptr<core::Device>> devices_;
  std::unique_ptr<model::LlamaModel> model_;
  std::optional<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<chat::ChatTemplate> chat_template_;
  std::string name_;
  std::string path_;
};

}  // namespace rbees::engine
