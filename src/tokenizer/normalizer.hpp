#pragma once
// Text normalisation applied to the text between added tokens before pre-tokenisation
// (tokenizer.json "normalizer").

#include "tokenizer/regex.hpp"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rbees::tokenizer {

class Normalizer {
 public:
  // Builds from a tokenizer.json "normalizer" value (null: no normalisation). Throws
  // std::invalid_argument naming any normalizer type that is not supported.
  static Normalizer from_json(const nlohmann::json& j);

  void add_prepend(std::string prefix);
  void add_replace(std::string literal, std::string content);

  std::string apply(std::string_view text) const;
  bool empty() const { return steps_.empty(); }

 private:
  enum class Kind { prepend, replace, nfc, nfkc, nfd, nfkd, lowercase };
  struct Step {
    Kind kind;
    std::string text;                // prepend: the prefix; replace: the literal pattern
    std::string content;             // replace: the replacement
    std::shared_ptr<Regex> pattern;  // replace with a regex pattern
  };
  void add_from_json(const nlohmann::json& j);
  std::vector<Step> steps_;
};

}  // namespace rbees::tokenizer
