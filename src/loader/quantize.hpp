#pragma once
// In-memory quantization of a loaded model: the blocks' weight matrices (and the output matrix) become
// q8_0, q4_0, q4_K or f16 in owned memory, so a bf16 Hugging Face model can run small without a
// conversion step. Norms and biases become F32.

#include <ggml.h>

#include <string>
#include <vector>

#include "loader/model_source.hpp"

namespace rbees::loader {

// "q8_0" | "q4_0" | "q4_k" | "f16" (case-insensitive). Throws std::invalid_argument.
ggml_type parse_quant(const std::string& name);

// Repoints the converted tensors at memory held by a new mapping in src.mappings. token_embd.weight
// is converted only for f16 and q8_0 (it is also the output matrix when tied, and row lookups of
// 4-bit embeddings cost accuracy for little memory). A matrix whose row length the target's block
// size does not divide falls back (q4_K -> q5_0 -> q8_0 -> f16; q4_0 -> q8_0 -> f16); their names
// go to *fell_back when given, and to the log.
void quantize_source(ModelSource& src, ggml_type target, std::vector<std::string>* fell_back = nullptr);

}  // namespace rbees::loader
