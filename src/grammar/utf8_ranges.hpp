#pragma once
// Code point ranges as UTF-8 byte sequences: each result is a list of byte ranges, one per byte of
// the encoding, so that a set of code points becomes alternatives of byte-class sequences (the way
// regex engines build UTF-8 automata). Surrogates (U+D800..U+DFFF) are left out: UTF-8 cannot encode them.

#include "grammar/gbnf_ast.hpp"

#include <cstdint>
#include <vector>

namespace rbees::grammar {

struct ByteRange {
  uint8_t lo;
  uint8_t hi;
};
using ByteSequence = std::vector<ByteRange>;

// Sorts and merges the ranges, complementing them first when negated.
std::vector<CodepointRange> normalize_ranges(std::vector<CodepointRange> ranges, bool negated);

std::vector<ByteSequence> utf8_sequences(const std::vector<CodepointRange>& normalized);

}  // namespace rbees::grammar
