#pragma once
// A grammar lowered to bytes: every rule is a list of alternatives, every alternative a sequence of
// byte sets and rule references ending in kEnd, all laid out in one array so that a parser position
// is one index. Repetitions become right-recursive helper rules, character classes become UTF-8 byte
// sequences. The parser (stack_automaton) works on this form only.

#include "grammar/gbnf_ast.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace rbees::grammar {

struct ByteGrammar {
  enum class Op : uint8_t { kBytes, kRef, kEnd };
  struct Element {
    Op op;
    int32_t arg;  // kBytes: index into byte_sets; kRef: rule id
  };
  using ByteSet = std::array<uint64_t, 4>;

  std::vector<Element> elements;
  std::vector<std::vector<int32_t>> alternatives;  // per rule: the positions its alternatives start at
  std::vector<int32_t> rule_of;                    // per position: the rule it belongs to
  std::vector<ByteSet> byte_sets;
  std::vector<std::string> rule_names;
  int32_t root = 0;
  // Counted repetitions past a few copies are chains of rules, one per count (x{0,n}: upto_k ::= x
  // upto_{k-1} | ""; x{m,...}: exact_k ::= x exact_{k-1}). Per rule: whether it is one of a chain's
  // lower counts, which a generation reaches only as far as it goes (the compiled grammar sorts the
  // tokens there on first use).
  std::vector<char> deferred;

  bool matches(int32_t pos, uint8_t b) const {
    const ByteSet& s = byte_sets[static_cast<size_t>(elements[static_cast<size_t>(pos)].arg)];
    return (s[b >> 6] >> (b & 63)) & 1;
  }
  // Where a frame of each rule may return to: the position after a non-final reference to it, or -1
  // for the end of the grammar. A final reference returns where its own frame returns (tail call).
  std::vector<std::vector<int32_t>> return_positions() const;
};

// Throws GrammarError for left recursion (which a top-down parser cannot run) and for grammars
// past the size limit.
ByteGrammar lower_to_bytes(const RuleSet& rules);

}  // namespace rbees::grammar
