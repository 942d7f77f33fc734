#pragma once
// The parser of a ByteGrammar as a lazily built DFA. A parse stack is a persistent linked list of
// frames (node = grammar position + parent node), hash-consed so that equal stacks are one id; a
// state is the set of stacks whose top is a byte set (node 0, the empty stack, marks "the grammar
// may end here"). Transitions are computed on first use and kept, so a state seen again costs one
// table read per byte.

#include "grammar/byte_grammar.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace rbees::grammar {

class StackAutomaton {
 public:
  static constexpr int32_t kDead = -1;
  static constexpr int32_t kEmptyStack = 0;

  explicit StackAutomaton(const ByteGrammar& g);

  int32_t node(int32_t pos, int32_t parent);
  int32_t pos(int32_t node) const { return nodes_[static_cast<size_t>(node)].pos; }
  int32_t parent(int32_t node) const { return nodes_[static_cast<size_t>(node)].parent; }

  // The state holding every stack that node expands to.
  int32_t closure_state(int32_t node);
  int32_t start_state() { return closure_state(node(-1, kEmptyStack)); }

  int32_t step(int32_t state, uint8_t b) {
    const size_t i = static_cast<size_t>(state) * 256 + b;
    if (trans_[i] != kUnknown) return trans_[i];
    const int32_t t = compute_step(state, b);
    trans_[i] = t;
    return t;
  }
  int32_t step(int32_t state, std::string_view bytes) {
    for (char c : bytes) {
      if (state == kDead) break;
      state = step(state, static_cast<uint8_t>(c));
    }
    return state;
  }
  bool can_end(int32_t state) const { return can_end_[static_cast<size_t>(state)]; }
  const std::vector<int32_t>& stacks(int32_t state) const { return states_[static_cast<size_t>(state)]; }
  size_t state_count() const { return states_.size(); }
  size_t node_count() const { return nodes_.size(); }

 private:
  static constexpr int32_t kUnknown = -2;
  struct Node {
    int32_t pos;
    int32_t parent;
  };

  int32_t compute_step(int32_t state, uint8_t b);
  void expand(int32_t node);
  int32_t intern();

  const ByteGrammar& g_;
  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, int32_t> node_ids_;
  std::vector<std::vector<int32_t>> states_;
  std::vector<char> can_end_;
  std::unordered_map<std::string, int32_t> state_ids_;
  std::vector<int32_t> trans_;
  // Scratch for expand(): the stacks found and the nodes already visited in this expansion.
  std::vector<int32_t> found_, work_;
  std::vector<uint32_t> seen_;
  uint32_t stamp_ = 0;
};

}  // namespace rbees::grammar
