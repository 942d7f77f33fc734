#pragma once
// One sequence's progress through a compiled grammar: the allowed-token mask for the next token, and
// the advance by the token chosen. The parse state is one id in this matcher's own lazily built
// automaton; masks are kept per state, since generation returns to the same states again and again
// (every token inside one string value, for one).

#include "grammar/compiled_grammar.hpp"
#include "grammar/stack_automaton.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rbees::grammar {

class GrammarMatcher {
 public:
  // cache_masks: keep masks per state (off only to measure the computation itself).
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar, bool cache_masks = true);

  // Bit t of word t / 64 is set when token t may come next. End-of-generation tokens are allowed
  // only where the grammar may end. Valid until the next accept().
  std::span<const uint64_t> allowed_tokens();
  bool is_allowed(int32_t token);

  // Advances by a token; false (and no change) when the grammar does not allow it. An
  // end-of-generation token is accepted where the grammar may end, and finishes the matcher.
  bool accept(int32_t token);
  // Advances by raw bytes (tests, and instances checked against a schema).
  bool accept_bytes(std::string_view bytes);

  bool can_end() const { return automaton_.can_end(state_); }
  // Nothing but ending is possible (the grammar is complete and takes no more bytes), or an
  // end-of-generation token was accepted.
  bool finished() const;

 private:
  void compute_mask(std::vector<uint64_t>& mask);
  void add_position(std::vector<uint64_t>& mask, int32_t node);

  std::shared_ptr<const CompiledGrammar> grammar_;
  StackAutomaton automaton_;
  int32_t state_;
  bool ended_ = false;
  bool cache_masks_;
  std::unordered_map<int32_t, std::vector<uint64_t>> masks_;  // per state
  std::vector<int32_t> walk_;
};

}  // namespace rbees::grammar
