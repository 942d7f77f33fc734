#include "grammar/token_trie.hpp"

#include <algorithm>

namespace rbees::grammar {

TokenTrie TokenTrie::build(std::vector<std::pair<std::string, int32_t>> entries) {
  std::sort(entries.begin(), entries.end());
  TokenTrie t;
  t.byte.push_back(0);
  t.depth.push_back(0);
  t.end.push_back(0);
  t.first_token.push_back(0);
  std::vector<int32_t> path{0};  // path[d]: the node at depth d on the current path
  const std::string* prev = nullptr;
  for (const auto& [bytes, id] : entries) {
    if (bytes.empty()) continue;
    size_t common = 0;
    if (prev) {
      while (common < prev->size() && common < bytes.size() && (*prev)[common] == bytes[common]) ++common;
    }
    // Nodes deeper than the shared prefix are complete: their subtrees end here.
    for (size_t d = common + 1; d < path.size(); ++d)
      t.end[static_cast<size_t>(path[d])] = static_cast<int32_t>(t.byte.size());
    path.resize(common + 1);
    for (size_t d = common; d < bytes.size(); ++d) {
      path.push_back(static_cast<int32_t>(t.byte.size()));
      t.byte.push_back(static_cast<uint8_t>(bytes[d]));
      t.depth.push_back(static_cast<uint32_t>(d + 1));
      t.end.push_back(0);
      t.first_token.push_back(static_cast<int32_t>(t.tokens.size()));
    }
    // Sorted order puts a string before its extensions, so the node it ends at is the newest one.
    t.tokens.push_back(id);
    prev = &bytes;
  }
  for (size_t d = 0; d < path.size(); ++d) t.end[static_cast<size_t>(path[d])] = static_cast<int32_t>(t.byte.size());
  t.first_token.push_back(static_cast<int32_t>(t.tokens.size()));
  return t;
}

size_t TokenTrie::memory_bytes() const {
  return byte.size() * (sizeof(uint8_t) + sizeof(uint32_t) + 2 * sizeof(int32_t)) + tokens.size() * sizeof(int32_t);
}

}  // namespace rbees::grammar
