#include "engine/prompt.hpp"

#include <stdexcept>
#include <string>

namespace rbees::engine {

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
  opts.add_generation_prompt = true;
  opts.bos_token = tok.bos_token();
  opts.eos_token = tok.eos_token();
  std::string text;
  try {
    text = tmpl->render(nlohmann::ordered_json::parse(chat.messages.dump()), opts);
  } catch (const chat::TemplateError& e) {
    throw std::invalid_argument(std::string("chat template: ") + e.what());
  }
  // The template already wrote BOS and the turn markers; encoding adds nothing more.
  return tok.encode(text, /*add_special=*/false);
}

}  // namespace rbees::engine
