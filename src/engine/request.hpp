#pragma once
// What the server hands to the engine for one generation, whichever HTTP API it came from.

#include "grammar/grammar_spec.hpp"
#include "sampling/sampling_params.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace rbees::engine {

// Raw text, tokenized with the tokenizer's special tokens (BOS) when add_special is set.
struct TextPrompt {
  std::string text;
  bool add_special = true;
};

// Token ids used as given (OpenAI completions accept a token-id array).
struct TokenPrompt {
  std::vector<int32_t> ids;
};

// Chat messages, rendered through the model's chat template: a JSON array of {role, content, ...}
// objects whose content is already flattened to a string (assistant tool_calls with their arguments
// as JSON objects, tool results with tool_call_id), and the tools the template lists (OpenAI's
// [{"type":"function","function":{...}}], or null). Ordered: templates print keys as they come.
//
// The template's generation prompt (the assistant's turn header) follows the messages unless
// add_generation_prompt is off. With continue_final_message, or with add_generation_prompt off
// and an assistant message last, that message is left open and the model continues its text.
struct ChatPrompt {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools = nullptr;
  bool add_generation_prompt = true;
  bool continue_final_message = false;
};

using Prompt = std::variant<TextPrompt, TokenPrompt, ChatPrompt>;

struct Request {
  std::string job_id;
  Prompt prompt;
  sampling::SamplingParams sampling;
  std::optional<int32_t> max_tokens;  // none: until the sequence's context limit
  std::vector<std::string> stop;      // stop strings, matched on the generated text
  bool ignore_eos = false;
  std::optional<int32_t> logprobs;  // none: no log-probabilities; N: the chosen token's and N alternatives
  bool echo = false;                // completions: the prompt's text precedes the generated text
  // Special tokens other than end-of-generation ones appear in the text (tool calls: a model's
  // [TOOL_CALLS] or <|python_tag|> marker is a control token).
  bool special_text = false;
  // Output restricted to a grammar or JSON schema; grammar_field names the request field it came
  // from, for the error when it does not compile.
  std::optional<grammar::GrammarSpec> grammar;
  std::string grammar_field;
};

}  // namespace rbees::engine
