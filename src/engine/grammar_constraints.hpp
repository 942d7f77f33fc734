#pragma once
// Turns a request's grammar or JSON schema into the constraint its sampler applies: compiled once
// per text against the model's vocabulary (cached), then a fresh matcher per sequence.

#include "engine/request.hpp"
#include "grammar/grammar_cache.hpp"
#include "sampling/logits_constraint.hpp"
#include "tokenizer/tokenizer.hpp"

#include <memory>
#include <mutex>

namespace rbees::engine {

class GrammarConstraints {
 public:
  explicit GrammarConstraints(const tokenizer::Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

  // Null when the request has no grammar. Throws std::invalid_argument naming the problem (the caller
  // names the field) when the grammar or schema cannot be compiled, or is combined with ignore_eos.
  std::unique_ptr<sampling::LogitsConstraint> make(const Request& request);

 private:
  const tokenizer::Tokenizer& tokenizer_;
  std::once_flag once_;
  std::unique_ptr<grammar::GrammarCache> cache_;  // built on the first constrained request
};

}  // namespace rbees::engine
