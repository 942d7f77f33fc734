#pragma once
// Stop strings matched on streamed text. Text pieces go in; out comes the text that is safe to show
// now. A tail that could still be the start of a stop string is held back until later text decides
// it, as is an incomplete UTF-8 character at the end; a matched stop string and everything after it
// are never shown.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rbees::engine {

class StopMatcher {
 public:
  struct Result {
    std::string text;               // safe to emit now (may be empty)
    std::optional<size_t> matched;  // index into stops() of the stop string that ended the text
  };

  // Empty strings in `stops` never match.
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds a piece of generated text. After a match, further pieces are ignored.
  Result feed(std::string_view piece);

  // Releases the held-back text when generation ends for another reason (EOS, max_tokens, cancel).
  std::string flush();

  bool stopped() const { return stopped_; }
  const std::vector<std::string>& stops() const { return stops_; }
  // Bytes held back right now.
  size_t pending() const { return buffer_.size(); }

 private:
  std::vector<std::string> stops_;
  std::string buffer_;  // text received but not yet emitted
  bool stopped_ = false;
};

// Length of the longest suffix of `text` that is a proper prefix of `stop`.
size_t partial_stop_suffix(std::string_view text, std::string_view stop);

// Length of `text` without a trailing incomplete UTF-8 sequence.
size_t complete_utf8_prefix(std::string_view text);

}  // namespace rbees::engine
