#pragma once
// Compiled grammars by request text: clients send the same schema again and again, and compiling
// against a large vocabulary costs milliseconds. Thread-safe; least recently used entries go first.

#include "grammar/compiled_grammar.hpp"
#include "grammar/grammar_spec.hpp"
#include "grammar/token_vocabulary.hpp"

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace rbees::grammar {

// The GBNF a spec stands for; throws GrammarError.
std::string to_gbnf(const GrammarSpec& spec);

class GrammarCache {
 public:
  explicit GrammarCache(std::shared_ptr<const TokenVocabulary> vocab, size_t capacity = 64);

  // Throws GrammarError for a grammar or schema that cannot be compiled.
  std::shared_ptr<const CompiledGrammar> get(const GrammarSpec& spec);
  const TokenVocabulary& vocab() const { return *vocab_; }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const CompiledGrammar>>;
  std::shared_ptr<const TokenVocabulary> vocab_;
  size_t capacity_;
  std::mutex mu_;
  std::list<Entry> order_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace rbees::grammar
