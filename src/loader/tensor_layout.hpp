#pragma once
// The tensors a model config implies (GGUF names, ggml shapes) and the check that a ModelSource holds
// them, shared by both loaders.

#include <cstdint>
#include <string>
#include <vector>

#include "loader/model_source.hpp"

namespace rbees::loader {

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> ne;  // ggml order
  bool required = true;
};

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

// Throws LoadError at the first tensor that is missing or shaped differently from the config.
// `weights_file` is the file a missing tensor's message names (the file or shard index).
void check_tensors(const ModelSource& source, const std::string& weights_file);

// The type most of the blocks' weight matrices have (ggml's name: "f16", "q8_0", ...), "mixed"
// when no type holds a majority.
std::string dominant_weight_type(const ModelSource& source);

std::string shape_string(const int64_t* ne, int n_dims);

}  // namespace rbees::loader
