#pragma once
// Byte strings (token texts, or token suffixes) in a trie laid out in preorder: node i's subtree is
// [i, end[i]), so a walk that finds a prefix impossible skips the whole subtree in one jump, and a
// walk is a linear scan with a state per depth (xgrammar walks its sorted vocabulary the same way).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rbees::grammar {

struct TokenTrie {
  // Node 0 is the root (the empty string); every other node adds one byte to its parent.
  std::vector<uint8_t> byte;
  std::vector<uint32_t> depth;
  std::vector<int32_t> end;
  std::vector<int32_t> first_token;  // tokens ending at node i: tokens[first_token[i] .. first_token[i + 1])
  std::vector<int32_t> tokens;

  // entries: (bytes, token id); empty byte strings are left out.
  static TokenTrie build(std::vector<std::pair<std::string, int32_t>> entries);

  size_t size() const { return byte.size(); }
  bool empty() const { return tokens.empty(); }
  size_t memory_bytes() const;
};

}  // namespace rbees::grammar
