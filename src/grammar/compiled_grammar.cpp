#include "grammar/compiled_grammar.hpp"

#include "grammar/gbnf_parser.hpp"
#include "grammar/stack_automaton.hpp"

namespace rbees::grammar {

namespace {

// Sorts the vocabulary for one (position, return position) pair by walking the vocabulary trie with
// the two frames alone on the stack. A state holding the empty stack means the frames completed
// after that many bytes: the token's rest then depends on the stack below.
// follow: the bytes that can come once the two frames are complete; a suffix starting otherwise
// is rejected here already.
PositionTokens classify(StackAutomaton& a, int32_t start, const TokenVocabulary& v,
                        const ByteGrammar::ByteSet& follow) {
  const TokenTrie& trie = v.trie;
  std::vector<int32_t> accepted;
  std::vector<std::pair<std::string, int32_t>> uncertain;
  std::vector<int32_t> state(64);
  std::vector<uint32_t> ends;  // depths on the current path where the frames completed
  state[0] = a.closure_state(start);
  const auto n = static_cast<int32_t>(trie.size());
  for (int32_t i = 1; i < n;) {
    const uint32_t d = trie.depth[static_cast<size_t>(i)];
    while (!ends.empty() && ends.back() >= d) ends.pop_back();
    const int32_t s = a.step(state[d - 1], trie.byte[static_cast<size_t>(i)]);
    if (s == StackAutomaton::kDead) {
      if (!ends.empty()) {
        for (int32_t j = i; j < trie.end[static_cast<size_t>(i)]; ++j) {
          for (int32_t k = trie.first_token[static_cast<size_t>(j)]; k < trie.first_token[static_cast<size_t>(j) + 1];
               ++k) {
            const int32_t id = trie.tokens[static_cast<size_t>(k)];
            const std::string& bytes = v.token_bytes[static_cast<size_t>(id)];
            for (uint32_t e : ends) {
              const auto b = static_cast<uint8_t>(bytes[e]);
              if ((follow[b >> 6] >> (b & 63)) & 1) uncertain.emplace_back(bytes.substr(e), id);
            }
          }
        }
      }
      i = trie.end[static_cast<size_t>(i)];
      continue;
    }
    if (d >= state.size()) state.resize(d * 2);
    state[d] = s;
    for (int32_t k = trie.first_token[static_cast<size_t>(i)]; k < trie.first_token[static_cast<size_t>(i) + 1]; ++k) {
      accepted.push_back(trie.tokens[static_cast<size_t>(k)]);
    }
    if (a.can_end(s)) ends.push_back(d);
    ++i;
  }
  PositionTokens out;
  // Dense above 1/32 of the vocabulary: a bitmap ORs faster than setting that many bits one by one.
  if (accepted.size() * 32 > v.size()) {
    out.accepted_bits.assign(v.mask_words(), 0);
    for (int32_t id : accepted) out.accepted_bits[static_cast<size_t>(id) >> 6] |= 1ull << (id & 63);
  } else {
    out.accepted = std::move(accepted);
  }
  out.uncertain = TokenTrie::build(std::move(uncertain));
  return out;
}

// The bytes that may follow a completed frame of each rule: the first bytes of what its return
// positions expand to, and of what follows those rules in turn where that expansion is empty.
std::vector<ByteGrammar::ByteSet> follow_bytes(const ByteGrammar& g, StackAutomaton& a,
                                               const std::vector<std::vector<int32_t>>& returns) {
  const size_t n = g.alternatives.size();
  std::vector<ByteGrammar::ByteSet> follow(n, ByteGrammar::ByteSet{});
  std::vector<std::vector<int32_t>> also(n);  // rules whose follow set is included
  for (size_t r = 0; r < n; ++r) {
    for (int32_t ret : returns[r]) {
      if (ret < 0) continue;
      const int32_t s = a.closure_state(a.node(ret, StackAutomaton::kEmptyStack));
      for (int32_t node : a.stacks(s)) {
        if (node == StackAutomaton::kEmptyStack) {
          also[r].push_back(g.rule_of[static_cast<size_t>(ret)]);
          continue;
        }
        const auto& set = g.byte_sets[static_cast<size_t>(g.elements[static_cast<size_t>(a.pos(node))].arg)];
        for (size_t w = 0; w < 4; ++w) follow[r][w] |= set[w];
      }
    }
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < n; ++r) {
      for (int32_t o : also[r]) {
        for (size_t w = 0; w < 4; ++w) {
          const uint64_t merged = follow[r][w] | follow[static_cast<size_t>(o)][w];
          changed |= merged != follow[r][w];
          follow[r][w] = merged;
        }
      }
    }
  }
  return follow;
}

}  // namespace

CompiledGrammar::CompiledGrammar(ByteGrammar g, std::shared_ptr<const TokenVocabulary> vocab)
    : grammar_(std::move(g)), vocab_(std::move(vocab)) {
  automaton_ = std::make_unique<StackAutomaton>(grammar_);
  const auto returns = grammar_.return_positions();
  follow_ = follow_bytes(grammar_, *automaton_, returns);
  auto deferred = [&](int32_t pos) {
    return pos >= 0 && !grammar_.deferred.empty() &&
           grammar_.deferred[static_cast<size_t>(grammar_.rule_of[static_cast<size_t>(pos)])];
  };
  for (size_t p = 0; p < grammar_.elements.size(); ++p) {
    if (grammar_.elements[p].op != ByteGrammar::Op::kBytes) continue;
    for (int32_t r : returns[static_cast<size_t>(grammar_.rule_of[p])]) {
      index_.emplace(key(static_cast<int32_t>(p), r), static_cast<int32_t>(pairs_.size()));
      pairs_.emplace_back(static_cast<int32_t>(p), r);
    }
  }
  tables_.resize(pairs_.size());
  ready_ = std::make_unique<std::atomic<bool>[]>(pairs_.size());
  for (size_t i = 0; i < pairs_.size(); ++i) {
    if (deferred(pairs_[i].first) || deferred(pairs_[i].second)) {
      ++deferred_;
    } else {
      fill(i);
    }
  }
}

CompiledGrammar::~CompiledGrammar() = default;

void CompiledGrammar::fill(size_t i) const {
  std::lock_guard lock(fill_mutex_);
  if (ready_[i].load(std::memory_order_relaxed)) return;
  const auto [p, r] = pairs_[i];
  StackAutomaton& a = *automaton_;
  const int32_t below = r < 0 ? StackAutomaton::kEmptyStack : a.node(r, StackAutomaton::kEmptyStack);
  // Past the two frames lies what follows the frame at r (the end of the grammar for r < 0).
  const ByteGrammar::ByteSet after =
      r < 0 ? ByteGrammar::ByteSet{} : follow_[static_cast<size_t>(grammar_.rule_of[static_cast<size_t>(r)])];
  tables_[i] = classify(a, a.node(p, below), *vocab_, after);
  ready_[i].store(true, std::memory_order_release);
}

size_t CompiledGrammar::sorted_count() const {
  size_t n = 0;
  for (size_t i = 0; i < pairs_.size(); ++i) n += ready_[i].load(std::memory_order_acquire) ? 1 : 0;
  return n;
}

size_t CompiledGrammar::memory_bytes() const {
  std::lock_guard lock(fill_mutex_);
  size_t total = 0;
  for (const auto& t : tables_) {
    total +=
        t.accepted.size() * sizeof(int32_t) + t.accepted_bits.size() * sizeof(uint64_t) + t.uncertain.memory_bytes();
  }
  return total;
}

std::shared_ptr<const CompiledGrammar> compile_gbnf(std::string_view gbnf,
                                                    std::shared_ptr<const TokenVocabulary> vocab) {
  return std::make_shared<CompiledGrammar>(lower_to_bytes(parse_gbnf(gbnf)), std::move(vocab));
}

}  // namespace rbees::grammar
