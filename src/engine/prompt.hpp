#pragma once
// A request's prompt (raw text, token ids or chat messages) to the token ids the model evaluates.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "chat/chat_template.hpp"
#include "engine/model_runtime.hpp"
#include "engine/request.hpp"

namespace rbees::engine {

// A prompt that cannot be encoded, naming the request field at fault.
struct InvalidPrompt : std::invalid_argument {
  InvalidPrompt(std::string field_name, const std::string& message)
      : std::invalid_argument(message), field(std::move(field_name)) {}
  std::string field;
};

// Renders chat messages through a template, leaving the last message open when the prompt asks to
// continue it (see ChatPrompt). Throws chat::TemplateError, or InvalidPrompt naming
// continue_final_message when the template does not write that message's text.
std::string render_chat_prompt(const chat::ChatTemplate& tmpl, const ChatPrompt& chat, chat::RenderOptions opts);

// Raw text gets the tokenizer's special tokens (BOS) when asked; chat messages go through the
// model's chat template (which writes BOS itself). Throws std::invalid_argument for a chat prompt
// on a model without a template, a template error, or token ids outside the vocabulary.
std::vector<int32_t> encode_prompt(const ModelRuntime& runtime, const Prompt& prompt);

}  // namespace rbees::engine
