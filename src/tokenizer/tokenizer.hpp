#pragma once
// A model's tokenizer: text -> token ids and back, from a tokenizer.json, a Hugging Face model
// directory or a GGUF file's embedded vocabulary. Immutable once loaded; copies share the tables and
// may be used from several threads at once.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rbees::tokenizer {

class Tokenizer {
 public:
  // path: a tokenizer.json (sibling tokenizer_config.json, generation_config.json, config.json and
  // chat_template.jinja are read when present), a model directory holding those files, or a GGUF
  // file. Throws std::runtime_error (unreadable or malformed files) or std::invalid_argument
  // (unsupported tokenizer features, named in the message).
  static Tokenizer load(const std::string& path);

  // add_special: run the post-processor (BOS and the like, as the tokenizer says).
  // parse_special: special-token strings in the text become their tokens (Hugging Face's behaviour);
  // false treats them as plain text (llama.cpp's parse_special=false). User-defined added tokens
  // always match. Invalid UTF-8 in text is replaced by U+FFFD first.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special = true) const;

  // Always valid UTF-8; skip_special drops special tokens (BOS, EOS, control tokens).
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // The token as the vocabulary stores it ("Ġthe", "▁the", "<0x0A>", "<|eot_id|>"); empty when out of range.
  std::string token_text(int32_t id) const;
  std::optional<int32_t> token_id(std::string_view token_text) const;
  size_t vocab_size() const;

  // "hf-json", "gguf-spm" or "gguf-bpe".
  std::string_view kind() const;

  std::optional<int32_t> bos_id() const;
  const std::vector<int32_t>& eos_ids() const;  // declared EOS ids (tokenizer and generation config)
  // Declared EOS ids plus the vocabulary's end-of-turn tokens (<|eot_id|>, <|im_end|>, <|end|>, ...).
  bool is_end_of_generation(int32_t id) const;
  const std::vector<int32_t>& end_of_generation_ids() const;
  bool is_special(int32_t id) const;
  bool add_bos() const;  // whether encode(..., add_special=true) puts BOS first

  // For chat templates: the BOS/EOS strings and the template source ("" when the files carry none).
  const std::string& bos_token() const;
  const std::string& eos_token() const;
  const std::string& chat_template() const;

  struct Impl;
  // For the streaming detokenizer: the bytes of one token (added tokens verbatim), empty for a skipped
  // special token or an id out of range.
  std::string token_bytes(int32_t id, bool skip_special) const;
  // Leading characters to remove from the start of the whole decoded text (SentencePiece's prefix space).
  std::pair<std::string, size_t> leading_strip() const;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
  friend Tokenizer make_tokenizer(std::shared_ptr<const Impl>);
};

}  // namespace rbees::tokenizer
