#pragma once
// What the grammar engine needs of a tokenizer: every token's bytes and the ids that end a
// generation. Built once per model and shared by every compiled grammar.

#include "grammar/token_trie.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rbees::tokenizer {
class Tokenizer;
}

namespace rbees::grammar {

struct TokenVocabulary {
  std::vector<std::string> token_bytes;  // per id; empty: never allowed (special tokens)
  std::vector<int32_t> end_ids;          // allowed only where the grammar may end
  TokenTrie trie;                        // every token with bytes

  size_t size() const { return token_bytes.size(); }
  size_t mask_words() const { return (token_bytes.size() + 63) / 64; }
};

std::shared_ptr<const TokenVocabulary> make_vocabulary(std::vector<std::string> token_bytes,
                                                       std::vector<int32_t> end_ids);
// Special tokens (BOS, control tokens) get no bytes: a grammar never produces them.
std::shared_ptr<const TokenVocabulary> make_vocabulary(const tokenizer::Tokenizer& tok);

}  // namespace rbees::grammar
