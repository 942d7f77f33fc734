#pragma once
// Turns token ids back into bytes (tokenizer.json "decoder", or the GGUF vocabulary's rules). Every
// supported decoder reduces to: per-token bytes, plus stripping a few characters at the start (and
// end) of the whole text. That form decodes incrementally, so the full decode and the streaming
// detokenizer share it.

#include "tokenizer/vocab.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rbees::tokenizer {

class TokenDecoder {
 public:
  // From a tokenizer.json "decoder" value (null: tokens are concatenated as they are). Throws
  // std::invalid_argument naming an unsupported type.
  static TokenDecoder from_json(const nlohmann::json& j);

  void add_replace(std::string from, std::string to);
  void add_byte_fallback();
  void add_byte_level();
  void set_strip(std::string content, size_t start, size_t stop);

  // The bytes that a model token (not an added token) stands for.
  std::string token_bytes(const std::string& token) const;

  // Characters to strip from the start / end of the whole decoded text, and which character.
  const std::string& strip_content() const { return strip_content_; }
  size_t strip_start() const { return strip_start_; }
  size_t strip_stop() const { return strip_stop_; }

 private:
  enum class Kind { replace, byte_fallback, byte_level };
  struct Step {
    Kind kind;
    std::string from, to;
  };
  void add_from_json(const nlohmann::json& j);

  std::vector<Step> steps_;
  std::string strip_content_ = " ";
  size_t strip_start_ = 0;
  size_t strip_stop_ = 0;
};

}  // namespace rbees::tokenizer
