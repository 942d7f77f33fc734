#pragma once
// Shared by the grammar tests: vocabularies, and a reference check of a matcher's mask that steps
// every token's bytes through the grammar's automaton directly.

#include "grammar/compiled_grammar.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar/stack_automaton.hpp"
#include "grammar/token_vocabulary.hpp"
#include "tokenizer/tokenizer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace rbees::grammar::testing {

inline std::string source_path(const std::string& rel) {
  return std::string(RBEES_SOURCE_DIR) + "/" + rel;
}

// The embedded model's 4096-token byte-level BPE vocabulary (in the repository).
inline std::shared_ptr<const TokenVocabulary> model_vocab() {
  static auto v = make_vocabulary(tokenizer::Tokenizer::load(source_path("models/wp-llama-5m/tokenizer.json")));
  return v;
}

// Every byte as a token, plus multi-byte tokens that cross grammar boundaries; id 0 ends.
inline std::shared_ptr<const TokenVocabulary> byte_vocab() {
  static auto v = [] {
    std::vector<std::string> t{""};
    for (int b = 1; b < 256; ++b) t.emplace_back(1, static_cast<char>(b));
    for (const char* s :
         {"{\"", "\":",  "\",",    "\"}",   "true", "false", "null", "12", "3.5",   "ab\"", "\\n", "\\u00",
          "é",   "\xc3", "\xa9\"", "x = 1", "  ",   "\n",    "[1,",  "]}", "\"a\"", "aaa",  "-0"}) {
      t.emplace_back(s);
    }
    return make_vocabulary(std::move(t), {0});
  }();
  return v;
}

// Walks `steps` tokens chosen at random among those allowed, checking each mask against stepping
// every token through the automaton; returns the bytes generated.
inline std::string check_random_walk(const std::shared_ptr<const CompiledGrammar>& g, int steps, uint64_t seed) {
  const TokenVocabulary& v = g->vocab();
  GrammarMatcher m(g);
  StackAutomaton ref(g->grammar());
  int32_t state = ref.start_state();
  std::mt19937_64 rng(seed);
  std::string out;
  for (int i = 0; i < steps; ++i) {
    const auto mask = m.allowed_tokens();
    std::vector<int32_t> allowed;
    for (size_t t = 0; t < v.size(); ++t) {
      const bool bit = (mask[t >> 6] >> (t & 63)) & 1;
      bool expect;
      if (std::find(v.end_ids.begin(), v.end_ids.end(), static_cast<int32_t>(t)) != v.end_ids.end()) {
        expect = ref.can_end(state);
      } else {
        expect = !v.token_bytes[t].empty() && ref.step(state, v.token_bytes[t]) != StackAutomaton::kDead;
      }
      EXPECT_EQ(bit, expect) << "token " << t << " '" << v.token_bytes[t] << "' after '" << out << "'";
      if (bit != expect) return out;
      if (bit) allowed.push_back(static_cast<int32_t>(t));
    }
    if (allowed.empty()) {
      ADD_FAILURE() << "no token allowed after '" << out << "'";
      return out;
    }
    const int32_t pick = allowed[rng() % allowed.size()];
    EXPECT_TRUE(m.accept(pick));
    if (std::find(v.end_ids.begin(), v.end_ids.end(), pick) != v.end_ids.end()) {
      EXPECT_TRUE(m.finished());
      return out;
    }
    out += v.token_bytes[static_cast<size_t>(pick)];
    state = ref.step(state, v.token_bytes[static_cast<size_t>(pick)]);
  }
  return out;
}

}  // namespace rbees::grammar::testing
