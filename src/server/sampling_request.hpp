#pragma once
// The token-choice fields every generating endpoint takes alike (/execute, /v1/completions,
// /v1/chat/completions): temperature, top_p, top_k, min_p, repetition_penalty, presence_penalty,
// frequency_penalty and logit_bias. Each API reads its own seed.

#include "sampling/sampling_params.hpp"
#include "server/validation.hpp"

namespace rbees::server {

// Sets the fields present in the body; records type and range errors, naming a logit_bias entry
// `logit_bias.<token id>`. Token ids past the vocabulary are the engine's to refuse.
void read_sampling_fields(FieldReader& r, sampling::SamplingParams& out);

}  // namespace rbees::server
