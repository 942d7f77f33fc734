#pragma once
// A grammar compiled against a vocabulary. For every place a parse stack's top can be (a byte-set
// position p inside a frame that returns to position r), the tokens are sorted once into three
// kinds, as xgrammar does: accepted whatever lies below those two frames, rejected whatever lies
// below, and uncertain: the two frames complete partway through the token, so the rest of the token
// (its suffix) must be checked against the real stack at run time. Most tokens are decided here;
// the uncertain ones are kept as a trie of suffixes.
//
// Positions a generation may never reach are sorted on first use instead (ByteGrammar::deferred:
// the lower counts of a counted repetition, one rule per count, such as a `maxLength` string's), so
// a compile costs what the grammar's shape costs, not what its counts multiply it by.
#include "grammar/byte_grammar.hpp"
#include "grammar/token_trie.hpp"
#include "grammar/token_vocabulary.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace rbees::grammar {

struct PositionTokens {
  std::vector<int32_t> accepted;        // sparse form, when few are accepted
  std::vector<uint64_t> accepted_bits;  // dense form (one bit per token), else empty
  TokenTrie uncertain;                  // suffixes still to check, with their tokens
};

class StackAutomaton;

class CompiledGrammar {
 public:
  CompiledGrammar(ByteGrammar g, std::shared_ptr<const TokenVocabulary> vocab);
  ~CompiledGrammar();

  const ByteGrammar& grammar() const { return grammar_; }
  const TokenVocabulary& vocab() const { return *vocab_; }
  // nullptr for a pair that the grammar cannot produce. Thread-safe: a deferred pair is sorted
  // here on its first use.
  const PositionTokens* tokens_at(int32_t pos, int32_t return_pos) const {
    auto it = index_.find(key(pos, return_pos));
    if (it == index_.end()) return nullptr;
    const auto i = static_cast<size_t>(it->second);
    if (!ready_[i].load(std::memory_order_acquire)) fill(i);
    return &tables_[i];
  }
  size_t position_count() const { return tables_.size(); }
  size_t deferred_count() const { return deferred_; }  // left to first use at compile time
  size_t sorted_count() const;                         // sorted so far
  size_t memory_bytes() const;

 private:
  static uint64_t key(int32_t pos, int32_t return_pos) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) | static_cast<uint32_t>(return_pos);
  }
  void fill(size_t i) const;

  ByteGrammar grammar_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  std::unordered_map<uint64_t, int32_t> index_;
  // Per pair: its table, whether it is sorted, and the pair itself (for a deferred one). The vector
  // never grows after construction, so filling one table does not move the others.
  mutable std::vector<PositionTokens> tables_;
  std::unique_ptr<std::atomic<bool>[]> ready_;
  std::vector<std::pair<int32_t, int32_t>> pairs_;
  size_t deferred_ = 0;
  // What sorting a table needs, kept for the deferred ones: the automaton (its states reused from
  // one table to the next) and the bytes that may follow each rule.
  mutable std::mutex fill_mutex_;
  std::unique_ptr<StackAutomaton> automaton_;
  std::vector<ByteGrammar::ByteSet> follow_;
};

// Parses and lowers GBNF text, then compiles it; throws GrammarError.
std::shared_ptr<const CompiledGrammar> compile_gbnf(std::string_view gbnf,
                                                    std::shared_ptr<const TokenVocabulary> vocab);

}  // namespace rbees::grammar
