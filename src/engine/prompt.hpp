#pragma once
// A request's prompt (raw text, token ids or chat messages) to the token ids the model evaluates.

#include <cstdint>
#include <vector>

#include "engine/model_runtime.hpp"
#include "engine/request.hpp"

namespace rbees::engine {

// Raw text gets the tokenizer's special tokens (BOS) when asked; chat messages go through the
// model's chat template (which writes BOS itself). Throws std::invalid_argument for a chat prompt
// on a model without a template, a template error, or token ids outside the vocabulary.
std::vector<int32_t> encode_prompt(const ModelRuntime& runtime, const Prompt& prompt);

}  // namespace rbees::engine
