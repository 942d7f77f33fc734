#pragma once
// A compiled PCRE2 pattern (UTF + Unicode properties, JIT when available) used by the Split
// pre-tokenizer and the GGUF pre-tokenizer variants.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rbees::tokenizer {

class Regex {
 public:
  struct Options {
    bool literal = false;          // the pattern is a plain string, not a regex
    bool dollar_end_only = false;  // '$' matches only at the very end (std::regex semantics)
  };

  // Throws std::invalid_argument with PCRE2's message when the pattern does not compile.
  explicit Regex(const std::string& pattern, Options opts);
  explicit Regex(const std::string& pattern) : Regex(pattern, Options{}) {}
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Byte ranges [begin, end) of every non-overlapping match in text (valid UTF-8), left to right.
  // Empty matches are skipped.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

}  // namespace rbees::tokenizer
