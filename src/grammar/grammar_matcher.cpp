#include "grammar/grammar_matcher.hpp"

#include <algorithm>

namespace rbees::grammar {

namespace {
// Masks kept per matcher: 16 KiB each for a 128k vocabulary.
constexpr size_t kMaxCachedMasks = 128;
}  // namespace

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar, bool cache_masks)
    : grammar_(std::move(grammar)), automaton_(grammar_->grammar()), cache_masks_(cache_masks) {
  state_ = automaton_.start_state();
}

bool GrammarMatcher::finished() const {
  if (ended_) return true;
  const auto& s = automaton_.stacks(state_);
  return s.size() == 1 && s[0] == StackAutomaton::kEmptyStack;
}

std::span<const uint64_t> GrammarMatcher::allowed_tokens() {
  auto it = masks_.find(state_);
  if (it == masks_.end()) {
    if (masks_.size() >= kMaxCachedMasks || !cache_masks_) masks_.clear();
    it = masks_.emplace(state_, std::vector<uint64_t>{}).first;
    compute_mask(it->second);
  }
  return it->second;
}

bool GrammarMatcher::is_allowed(int32_t token) {
  const auto mask = allowed_tokens();
  if (token < 0 || static_cast<size_t>(token) >= grammar_->vocab().size()) return false;
  return (mask[static_cast<size_t>(token) >> 6] >> (token & 63)) & 1;
}

void GrammarMatcher::compute_mask(std::vector<uint64_t>& mask) {
  const TokenVocabulary& v = grammar_->vocab();
  mask.assign(v.mask_words(), 0);
  if (ended_) return;
  // Copy: add_position() may add states to the automaton.
  const std::vector<int32_t> stacks = automaton_.stacks(state_);
  for (int32_t n : stacks) {
    if (n == StackAutomaton::kEmptyStack) {
      for (int32_t id : v.end_ids) mask[static_cast<size_t>(id) >> 6] |= 1ull << (id & 63);
    } else {
      add_position(mask, n);
    }
  }
}

void GrammarMatcher::add_position(std::vector<uint64_t>& mask, int32_t n) {
  const int32_t pos = automaton_.pos(n);
  const int32_t below = automaton_.parent(n);
  const int32_t return_pos = below == StackAutomaton::kEmptyStack ? -1 : automaton_.pos(below);
  const int32_t rest = below == StackAutomaton::kEmptyStack ? StackAutomaton::kEmptyStack : automaton_.parent(below);
  const PositionTokens* t = grammar_->tokens_at(pos, return_pos);
  const TokenVocabulary& v = grammar_->vocab();
  if (t == nullptr) {
    // Not precomputed (cannot happen for a stack this automaton built): check every token directly.
    const int32_t s = automaton_.closure_state(n);
    for (size_t id = 0; id < v.size(); ++id) {
      if (!v.token_bytes[id].empty() && automaton_.step(s, v.token_bytes[id]) != StackAutomaton::kDead) {
        mask[id >> 6] |= 1ull << (id & 63);
      }
    }
    return;
  }
  if (!t->accepted_bits.empty()) {
    for (size_t w = 0; w < mask.size(); ++w) mask[w] |= t->accepted_bits[w];
  } else {
    for (int32_t id : t->accepted) mask[static_cast<size_t>(id) >> 6] |= 1ull << (id & 63);
  }
  if (t->uncertain.empty()) return;
  // The uncertain suffixes, walked from what lies below the two precomputed frames.
  const TokenTrie& trie = t->uncertain;
  if (walk_.size() < 64) walk_.resize(64);
  walk_[0] = automaton_.closure_state(rest);
  const auto size = static_cast<int32_t>(trie.size());
  for (int32_t i = 1; i < size;) {
    const uint32_t d = trie.depth[static_cast<size_t>(i)];
    const int32_t s = walk_[d - 1] == StackAutomaton::kDead
                          ? StackAutomaton::kDead
                          : automaton_.step(walk_[d - 1], trie.byte[static_cast<size_t>(i)]);
    if (s == StackAutomaton::kDead) {
      i = trie.end[static_cast<size_t>(i)];
      continue;
    }
    if (d >= walk_.size()) walk_.resize(d * 2);
    walk_[d] = s;
    for (int32_t k = trie.first_token[static_cast<size_t>(i)]; k < trie.first_token[static_cast<size_t>(i) + 1]; ++k) {
      const int32_t id = trie.tokens[static_cast<size_t>(k)];
      mask[static_cast<size_t>(id) >> 6] |= 1ull << (id & 63);
    }
    ++i;
  }
}

bool GrammarMatcher::accept(int32_t token) {
  if (ended_) return false;
  const TokenVocabulary& v = grammar_->vocab();
  if (std::find(v.end_ids.begin(), v.end_ids.end(), token) != v.end_ids.end()) {
    if (!can_end()) return false;
    ended_ = true;
    return true;
  }
  if (token < 0 || static_cast<size_t>(token) >= v.size()) return false;
  const std::string& bytes = v.token_bytes[static_cast<size_t>(token)];
  if (bytes.empty()) return false;
  return accept_bytes(bytes);
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  if (ended_) return false;
  const int32_t s = automaton_.step(state_, bytes);
  if (s == StackAutomaton::kDead) return false;
  state_ = s;
  return true;
}

}  // namespace rbees::grammar
