#pragma once
// A Hugging Face model directory: config.json (+ generation_config.json) and safetensors weights,
// one file or shards listed in model.safetensors.index.json. Weights stay in the memory map.

#include <filesystem>
#include <optional>
#include <string>

#include "loader/load_options.hpp"
#include "loader/model_source.hpp"

namespace rbees::loader {

ModelSource load_hf_directory(const std::filesystem::path& dir, const LoadOptions& options = {});

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight"; nullopt for names the model
// does not use.
std::optional<std::string> hf_to_gguf_name(const std::string& hf_name);

}  // namespace rbees::loader
