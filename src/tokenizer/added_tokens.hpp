#pragma once
// Added tokens (special and user-defined) are cut out of the text before normalisation and the model,
// leftmost first and longest first at a position, as Hugging Face tokenizers does.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rbees::tokenizer {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool lstrip = false;       // absorbs whitespace on its left
  bool rstrip = false;       // absorbs whitespace on its right
  bool single_word = false;  // matches only when not inside a word
  bool normalized = false;
};

// A piece of input: either plain text for the model or one added token.
struct Segment {
  std::string_view text;
  int32_t token = -1;  // >= 0: an added token's id
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  // parse_special false: special tokens stay plain text (user-defined ones still match).
  std::vector<Segment> split(std::string_view text, bool parse_special) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;
  std::vector<std::vector<size_t>> by_first_byte_;  // indices into tokens_, longest first
};

}  // namespace rbees::tokenizer
