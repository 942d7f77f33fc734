#include "engine/prompt.hpp"

#include <stdexcept>
#include <string>

namespace rbees::engine {

namespace {
// Appended to the message to continue, so that its end is found in the rendering whatever the
// template does around the content (trims it, closes the turn, starts another).
constexpr std::string_view kContinueMark = "[[rbees-continue-final-message]]";
}  // namespace

std::string render_chat_prompt(const chat::ChatTemplate& tmpl, const ChatPrompt& chat, chat::RenderOptions opts) {
  auto messages = nlohmann::ordered_json::parse(chat.messages.dump());
  const bool last_is_assistant =
      !messages.empty() && messages.back().is_object() && messages.back().value("role", "") == "assistant";
  const bool continue_final = chat.continue_final_message || (!chat.add_generation_prompt && last_is_assistant);
  opts.add_generation_prompt = chat.add_generation_prompt && !continue_final;
  if (!continue_final) return tmpl.render(messages, opts);
  if (!last_is_assistant) {
    throw InvalidPrompt("continue_final_message", "continue_final_message needs an assistant message last");
  }
  auto& content = messages.back()["content"];
  content = content.get<std::string>() + std::string(kContinueMark);
  const std::string text = tmpl.render(messages, opts);
  const size_t at = text.find(kContinueMark);
  if (at == std::string::npos || text.find(kContinueMark, at + 1) != std::string::npos) {
    throw InvalidPrompt("continue_final_message",
                        "the chat template does not write the final message's text as given, so it cannot be "
                        "continued");
  }
  return text.substr(0, at);
}

std::vector<int32_t> encode_prompt(const ModelRuntime& runtime, const Prompt& prompt) {
  const auto& tok = runtime.tokenizer();
  if (const auto* text = std::get_if<TextPrompt>(&prompt)) return tok.encode(text->text, text->add_special);
  if (const auto* ids = std::get_if<TokenPrompt>(&prompt)) {
    const auto n_vocab = static_cast<int32_t>(runtime.config().n_vocab);
    for (int32_t id : ids->ids) {
      if (id < 0 || id >= n_vocab) {
        throw std::invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                    std::to_string(n_vocab - 1) + ")");
      }
    }
    return ids->ids;
  }
  const auto& chat = std::get<ChatPrompt>(prompt);
  const chat::ChatTemplate* tmpl = runtime.chat_template();
  if (tmpl == nullptr) throw std::invalid_argument("the model has no chat template");
  chat::RenderOptions opts;
  opts.bos_token = tok.bos_token();
  opts.eos_token = tok.eos_token();
  opts.tools = chat.tools;
  std::string text;
  try {
    text = render_chat_prompt(*tmpl, chat, opts);
  } catch (const chat::TemplateError& e) {
    throw std::invalid_argument(std::string("chat template: ") + e.what());
  }
  // The template already wrote BOS and the turn markers; encoding adds nothing more.
  return tok.encode(text, /*add_special=*/false);
}

}  // namespace rbees::engine
