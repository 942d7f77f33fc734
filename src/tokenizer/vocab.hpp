#pragma once
// The token table shared by a tokenizer's model, matcher and decoder.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rbees::tokenizer {

// Transparent hashing so that lookups by string_view allocate nothing.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Limits that keep a malformed or hostile tokenizer file from exhausting memory before it is refused:
// the largest real vocabularies have about 260k tokens and their tokenizer.json about 20 MB.
inline constexpr size_t kMaxVocabSize = 2'000'000;
inline constexpr uintmax_t kMaxTokenizerFileBytes = 100ull << 20;

struct Vocab {
  std::vector<std::string> id_to_token;  // as stored: byte-level characters or "▁"-escaped text
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> token_to_id;

  std::optional<int32_t> find(std::string_view token) const {
    auto it = token_to_id.find(token);
    if (it == token_to_id.end()) return std::nullopt;
    return it->second;
  }
  // Places a token at an id, growing the table as needed (added tokens may lie beyond the model vocab).
  void set(int32_t id, const std::string& token) {
    if (id < 0 || static_cast<size_t>(id) >= kMaxVocabSize) {
      throw std::runtime_error("tokenizer: token id " + std::to_string(id) + " of \"" + token.substr(0, 64) +
                               "\" is outside 0.." + std::to_string(kMaxVocabSize - 1));
    }
    if (static_cast<size_t>(id) >= id_to_token.size()) id_to_token.resize(static_cast<size_t>(id) + 1);
    id_to_token[static_cast<size_t>(id)] = token;
    token_to_id.emplace(token, id);
  }
  size_t size() const { return id_to_token.size(); }
};

// Encodes one pre-tokenised word into ids.
class Model {
 public:
  virtual ~Model() = default;
  virtual void encode(std::string_view word, std::vector<int32_t>& out) const = 0;
};

}  // namespace rbees::tokenizer
