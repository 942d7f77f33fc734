#pragma once
// A grammar as GBNF writes it: named rules over literals, character classes, rule references,
// groups and repetitions. Characters are Unicode code points; lowering to bytes happens later.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rbees::grammar {

struct CodepointRange {
  uint32_t lo;
  uint32_t hi;  // inclusive
};

struct Expr {
  enum class Kind { kSequence, kAlternatives, kLiteral, kCharClass, kRuleRef, kRepeat };
  Kind kind = Kind::kSequence;
  std::vector<Expr> items;             // kSequence, kAlternatives; kRepeat: exactly one
  std::string text;                    // kLiteral: UTF-8 bytes; kRuleRef: rule name
  std::vector<CodepointRange> ranges;  // kCharClass
  bool negated = false;                // kCharClass
  int32_t min = 0;                     // kRepeat
  int32_t max = -1;                    // kRepeat; -1: unbounded

  static Expr literal(std::string bytes) {
    Expr e;
    e.kind = Kind::kLiteral;
    e.text = std::move(bytes);
    return e;
  }
  static Expr ref(std::string name) {
    Expr e;
    e.kind = Kind::kRuleRef;
    e.text = std::move(name);
    return e;
  }
};

struct RuleSet {
  std::vector<std::pair<std::string, Expr>> rules;  // in order of definition; "root" starts
};

}  // namespace rbees::grammar
