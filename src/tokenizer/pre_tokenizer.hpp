#pragma once
// Splits normalised text into the words that the model encodes one by one (tokenizer.json
// "pre_tokenizer", or the regex list of a GGUF vocabulary's pre-tokenizer variant).

#include "tokenizer/regex.hpp"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rbees::tokenizer {

// What happens to the regex matches of a Split (the names of Hugging Face tokenizers).
enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

class PreTokenizer {
 public:
  // From a tokenizer.json "pre_tokenizer" value (null: the whole segment is one word). Throws
  // std::invalid_argument naming an unsupported type.
  static PreTokenizer from_json(const nlohmann::json& j);

  void add_split(std::shared_ptr<const Regex> pattern, SplitBehavior behavior, bool invert);
  void add_byte_level(bool add_prefix_space, bool use_regex);
  // prepend_scheme: "always", "first" or "never".
  void add_metaspace(std::string replacement, std::string prepend_scheme, bool split);
  void add_digits(bool individual_digits);

  // Words of one text segment (text between added tokens). at_input_start: the segment begins the
  // whole input (Metaspace's "first" scheme prepends only there).
  std::vector<std::string> apply(std::string_view segment, bool at_input_start) const;

  bool byte_level() const { return byte_level_; }

 private:
  struct Piece {
    std::string text;
    bool at_start;
  };
  enum class Kind { split, byte_level, metaspace };
  struct Step {
    Kind kind;
    std::shared_ptr<const Regex> pattern;
    SplitBehavior behavior = SplitBehavior::isolated;
    bool invert = false;
    bool add_prefix_space = false;  // byte_level
    bool use_regex = false;         // byte_level
    std::string replacement;        // metaspace
    std::string prepend_scheme;     // metaspace
    bool split = false;             // metaspace
  };
  void add_from_json(const nlohmann::json& j);
  static void split_piece(const Piece& p, const Regex& re, SplitBehavior behavior, bool invert,
                          std::vector<Piece>& out);

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

// The GPT-2 pattern that ByteLevel(use_regex) splits with.
extern const char* const kGpt2Pattern;

}  // namespace rbees::tokenizer
