#include "engine/grammar_constraints.hpp"

#include "grammar/grammar_error.hpp"
#include "grammar/grammar_matcher.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace rbees::engine {

namespace {

class GrammarConstraint : public sampling::LogitsConstraint {
 public:
  explicit GrammarConstraint(std::shared_ptr<const grammar::CompiledGrammar> g) : matcher_(std::move(g)) {}
  std::span<const uint64_t> allowed() override { return matcher_.allowed_tokens(); }
  bool accept(int32_t id) override { return matcher_.accept(id); }

 private:
  grammar::GrammarMatcher matcher_;
};

}  // namespace

std::unique_ptr<sampling::LogitsConstraint> GrammarConstraints::make(const Request& request) {
  if (!request.grammar) return nullptr;
  // The grammar decides where the output ends, with an end-of-generation token.
  if (request.ignore_eos) throw std::invalid_argument("cannot be combined with ignore_eos");
  std::call_once(once_,
                 [&] { cache_ = std::make_unique<grammar::GrammarCache>(grammar::make_vocabulary(tokenizer_)); });
  if (cache_->vocab().end_ids.empty()) {
    throw std::invalid_argument("the model's vocabulary has no end-of-generation token");
  }
  try {
    return std::make_unique<GrammarConstraint>(cache_->get(*request.grammar));
  } catch (const grammar::GrammarError& e) {
    // The server names the field; the grammar layer's own prefix would only repeat it.
    std::string what = e.what();
    for (const char* prefix : {"json_schema: ", "grammar: "}) {
      if (what.rfind(prefix, 0) == 0) what.erase(0, std::string_view(prefix).size());
    }
    throw std::invalid_argument(what);
  }
}

}  // namespace rbees::engine
