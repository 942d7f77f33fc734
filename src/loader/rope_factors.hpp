#pragma once
// Llama 3 RoPE scaling as per-frequency divisors, the form GGUF files carry in rope_freqs.weight and
// ggml_rope_ext takes as freq_factors. A Hugging Face config states the scaling as parameters instead.

#include <vector>

#include "loader/model_source.hpp"

namespace rbees::loader {

// head_dim / 2 factors; all 1 unless rope.scaling is llama3. Same arithmetic as transformers'
// _compute_llama3_parameters and llama.cpp's converter.
std::vector<float> llama3_rope_factors(const RopeConfig& rope, int head_dim);

}  // namespace rbees::loader
