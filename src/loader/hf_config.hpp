#pragma once
// Hugging Face config.json (transformers v4 and v5 forms) to ModelConfig.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "loader/model_source.hpp"

namespace rbees::loader {

// `file` is only used in error messages.
ModelConfig parse_hf_config(const nlohmann::json& config, const std::string& file);

// Adds generation_config.json's eos ids (and its bos id when config.json had none).
void merge_generation_config(ModelConfig& config, const nlohmann::json& generation, const std::string& file);

// Reads dir/config.json and, when present, dir/generation_config.json. Throws LoadError.
ModelConfig read_hf_config(const std::filesystem::path& dir);

}  // namespace rbees::loader
