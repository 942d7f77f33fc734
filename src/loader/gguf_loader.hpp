#pragma once
// A GGUF file (as llama.cpp's converter writes them): metadata through ggml's GGUF reader, tensor data
// memory-mapped and used in place, in any type ggml computes with.

#include <string>

#include "loader/load_options.hpp"
#include "loader/model_source.hpp"

namespace rbees::loader {

ModelSource load_gguf_file(const std::string& path, const LoadOptions& options = {});

}  // namespace rbees::loader
