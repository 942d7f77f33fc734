#pragma once
// A grammar compiled against a vocabulary. For every place a parse stack's top can be (a byte-set
// position p inside a frame that returns to position r), the tokens are sorted once into three
// kinds, as xgrammar does: accepted whatever lies below those two frames, rejected whatever lies
// below, and uncertain: the two frames complete partway through the token, so the rest of the token
// (its suffix) must be checked against the real stack at run time. Most tokens are decided here;
// the uncertain ones are kept as a trie of suffixes.

#include "grammar/byte_grammar.hpp"
#include "grammar/token_trie.hpp"
#include "grammar/token_vocabulary.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace rbees::grammar {

struct PositionTokens {
  std::vector<int32_t> accepted;        // sparse form, when few are accepted
  std::vector<uint64_t> accepted_bits;  // dense form (one bit per token), else empty
  TokenTrie uncertain;                  // suffixes still to check, with their tokens
};

class CompiledGrammar {
 public:
  CompiledGrammar(ByteGrammar g, std::shared_ptr<const TokenVocabulary> vocab);

  const ByteGrammar& grammar() const { return grammar_; }
  const TokenVocabulary& vocab() const { return *vocab_; }
  // nullptr for a pair that the grammar cannot produce.
  const PositionTokens* tokens_at(int32_t pos, int32_t return_pos) const {
    auto it = index_.find(key(pos, return_pos));
    return it == index_.end() ? nullptr : &tables_[static_cast<size_t>(it->second)];
  }
  size_t position_count() const { return tables_.size(); }
  size_t memory_bytes() const;

 private:
  static uint64_t key(int32_t pos, int32_t return_pos) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) | static_cast<uint32_t>(return_pos);
  }

  ByteGrammar grammar_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  std::unordered_map<uint64_t, int32_t> index_;
  std::vector<PositionTokens> tables_;
};

// Parses and lowers GBNF text, then compiles it; throws GrammarError.
std::shared_ptr<const CompiledGrammar> compile_gbnf(std::string_view gbnf,
                                                    std::shared_ptr<const TokenVocabulary> vocab);

}  // namespace rbees::grammar
