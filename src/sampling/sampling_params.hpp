#pragma once
// Per-request parameters of token choice. Defaults switch every transform off except temperature 1.

#include <cstdint>
#include <map>
#include <optional>

namespace rbees::sampling {

struct SamplingParams {
  float temperature = 1.0f;             // 0: greedy (argmax after logit bias and penalties)
  int32_t top_k = 0;                    // 0: off
  float top_p = 1.0f;                   // 1: off
  float min_p = 0.0f;                   // 0: off
  float repetition_penalty = 1.0f;      // 1: off; transformers' rule over prompt and output tokens
  float presence_penalty = 0.0f;        // OpenAI: over generated tokens only
  float frequency_penalty = 0.0f;       // OpenAI: over generated tokens only
  std::map<int32_t, float> logit_bias;  // token id -> value added to its logit
  std::optional<uint64_t> seed;         // none: seeded from std::random_device
};

}  // namespace rbees::sampling
