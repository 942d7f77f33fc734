#pragma once
// What a job's sink hands the front end, as the engine reported it: a token, the prompt's
// log-probabilities or the end, with the choice it belongs to. The front end's threads turn these
// into response bytes; the engine's thread only records them.

#include "engine/engine.hpp"

#include <cstdint>
#include <variant>
#include <vector>

namespace rbees::server {

struct PromptLogprobs {
  std::vector<engine::PromptTokenLogprob> tokens;
};

struct StreamEvent {
  uint32_t choice = 0;  // the OpenAI choice whose job sent it (0 for /execute)
  std::variant<engine::TokenEvent, PromptLogprobs, engine::FinalResult> data;
};

}  // namespace rbees::server
