#pragma once
// Parses GBNF, llama.cpp's grammar format, so users' existing .gbnf files work: `name ::= ...` rules,
// "literals", [character classes] (with ^ and ranges), `.`, ( groups ), alternatives with |, and the
// postfix operators * + ? {m} {m,} {m,n}; # comments. Token references (<...>) are refused.

#include "grammar/gbnf_ast.hpp"

#include <string_view>

namespace rbees::grammar {

// Throws GrammarError naming the line and column of the first problem; a grammar without a `root`
// rule, or referring to an undefined rule, is refused too.
RuleSet parse_gbnf(std::string_view text);

}  // namespace rbees::grammar
