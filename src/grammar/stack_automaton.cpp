#include "grammar/stack_automaton.hpp"

#include <algorithm>

namespace rbees::grammar {

namespace {
using Op = ByteGrammar::Op;
}

StackAutomaton::StackAutomaton(const ByteGrammar& g) : g_(g) {
  nodes_.push_back({-1, -1});  // the empty stack
}

int32_t StackAutomaton::node(int32_t pos, int32_t parent) {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) | static_cast<uint32_t>(parent);
  auto [it, fresh] = node_ids_.emplace(key, static_cast<int32_t>(nodes_.size()));
  if (fresh) nodes_.push_back({pos, parent});
  return it->second;
}

// Collects into found_ the stacks with a byte set on top (or the empty stack) that `start` expands
// to: references push their rule's alternatives, ends pop. Left recursion was refused when the
// grammar was lowered, so this ends; `seen_` keeps shared sub-expansions from being walked twice.
void StackAutomaton::expand(int32_t start) {
  work_.push_back(start);
  while (!work_.empty()) {
    const int32_t n = work_.back();
    work_.pop_back();
    if (seen_.size() < nodes_.size()) seen_.resize(nodes_.size() * 2, 0);
    if (seen_[static_cast<size_t>(n)] == stamp_) continue;
    seen_[static_cast<size_t>(n)] = stamp_;
    if (n == kEmptyStack) {
      found_.push_back(n);
      continue;
    }
    const Node nd = nodes_[static_cast<size_t>(n)];
    if (nd.pos < 0) {  // the start: the root rule's alternatives over the empty stack
      for (int32_t a : g_.alternatives[static_cast<size_t>(g_.root)]) work_.push_back(node(a, kEmptyStack));
      continue;
    }
    const auto& e = g_.elements[static_cast<size_t>(nd.pos)];
    if (e.op == Op::kBytes) {
      found_.push_back(n);
    } else if (e.op == Op::kEnd) {
      work_.push_back(nd.parent);
    } else {
      // A reference in last place returns straight to the parent (a tail call), so right recursion
      // (repetition) does not deepen the stack.
      const bool tail = g_.elements[static_cast<size_t>(nd.pos) + 1].op == Op::kEnd;
      const int32_t cont = tail ? nd.parent : node(nd.pos + 1, nd.parent);
      for (int32_t a : g_.alternatives[static_cast<size_t>(e.arg)]) work_.push_back(node(a, cont));
    }
  }
}

int32_t StackAutomaton::intern() {
  std::sort(found_.begin(), found_.end());
  found_.erase(std::unique(found_.begin(), found_.end()), found_.end());
  if (found_.empty()) return kDead;
  std::string key(reinterpret_cast<const char*>(found_.data()), found_.size() * sizeof(int32_t));
  auto [it, fresh] = state_ids_.emplace(std::move(key), static_cast<int32_t>(states_.size()));
  if (fresh) {
    states_.push_back(found_);
    can_end_.push_back(found_.front() == kEmptyStack);
    // Bytes no stack can take are dead at once, without computing the step.
    const size_t base = trans_.size();
    trans_.resize(states_.size() * 256, kDead);
    for (int32_t n : found_) {
      if (n == kEmptyStack) continue;
      const auto& set = g_.byte_sets[static_cast<size_t>(g_.elements[static_cast<size_t>(pos(n))].arg)];
      for (unsigned b = 0; b < 256; ++b) {
        if ((set[b >> 6] >> (b & 63)) & 1) trans_[base + b] = kUnknown;
      }
    }
  }
  return it->second;
}

int32_t StackAutomaton::closure_state(int32_t n) {
  found_.clear();
  ++stamp_;
  expand(n);
  return intern();
}

int32_t StackAutomaton::compute_step(int32_t state, uint8_t b) {
  found_.clear();
  ++stamp_;
  // expand() adds nodes but no states, so the state's list stays in place.
  const std::vector<int32_t>& current = states_[static_cast<size_t>(state)];
  for (int32_t n : current) {
    if (n == kEmptyStack) continue;
    const Node nd = nodes_[static_cast<size_t>(n)];
    if (!g_.matches(nd.pos, b)) continue;
    const bool last = g_.elements[static_cast<size_t>(nd.pos) + 1].op == Op::kEnd;
    expand(last ? nd.parent : node(nd.pos + 1, nd.parent));
  }
  return intern();
}

}  // namespace rbees::grammar
