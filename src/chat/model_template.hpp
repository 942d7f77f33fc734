#pragma once
// Where a model keeps its chat template and its BOS/EOS strings: a Hugging Face directory
// (chat_template.jinja, else tokenizer_config.json's chat_template, else chat_template.json) or a GGUF
// file (tokenizer.chat_template, and the BOS/EOS token texts from its vocabulary).

#include <optional>
#include <string>

namespace rbees::chat {

// The template source, or nullopt when the model has none. Throws std::runtime_error when the
// model files exist but cannot be read or parsed.
std::optional<std::string> find_chat_template(const std::string& model_path);

struct SpecialTokenTexts {
  std::string bos;  // empty when the model declares none
  std::string eos;
};

SpecialTokenTexts find_special_token_texts(const std::string& model_path);

}  // namespace rbees::chat
