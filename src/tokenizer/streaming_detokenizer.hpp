#pragma once
// Incremental decoding for generation: feed ids one at a time, get text pieces that are always valid
// UTF-8. Bytes of a character split across tokens (byte-fallback <0xXX> tokens, byte-level tokens)
// are held back until the character completes; SentencePiece's prefix space comes off the start of the
// whole text only. The pieces concatenate to Tokenizer::decode of the same ids.

#include "tokenizer/tokenizer.hpp"

#include <cstdint>
#include <string>

namespace rbees::tokenizer {

class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special = false);

  // The text that this token completes (possibly empty).
  std::string push(int32_t id);
  // Bytes still held back (an unfinished character) come out as U+FFFD; the stream starts over.
  std::string finish();
  // Bytes held back waiting for the rest of a character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  Tokenizer tokenizer_;
  bool skip_special_;
  std::string strip_content_;
  size_t strip_left_;  // leading characters that may still be stripped; 0 once text has started
  std::string pending_;
};

}  // namespace rbees::tokenizer
