#include "grammar/grammar_cache.hpp"

#include "grammar/json_schema.hpp"

namespace rbees::grammar {

std::string to_gbnf(const GrammarSpec& spec) {
  switch (spec.kind) {
    case GrammarKind::kGbnf: return spec.text;
    case GrammarKind::kJsonSchema: return json_schema_to_gbnf(spec.text);
    case GrammarKind::kJsonObject: return json_object_gbnf();
  }
  return spec.text;
}

GrammarCache::GrammarCache(std::shared_ptr<const TokenVocabulary> vocab, size_t capacity)
    : vocab_(std::move(vocab)), capacity_(capacity) {}

std::shared_ptr<const CompiledGrammar> GrammarCache::get(const GrammarSpec& spec) {
  const std::string key = std::to_string(static_cast<int>(spec.kind)) + ":" + spec.text;
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return it->second->second;
    }
  }
  // Compiled outside the lock: a slow compile does not hold up requests for cached grammars.
  auto compiled = compile_gbnf(to_gbnf(spec), vocab_);
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) return it->second->second;
  order_.emplace_front(key, compiled);
  index_[key] = order_.begin();
  while (order_.size() > capacity_) {
    index_.erase(order_.back().first);
    order_.pop_back();
  }
  return compiled;
}

}  // namespace rbees::grammar
