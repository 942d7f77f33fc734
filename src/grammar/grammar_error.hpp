#pragma once
// The one error type of the grammar layer: a grammar, schema or pattern that cannot be compiled. The
// message names the construct (the rule, the keyword, the position) so a client can fix its request.

#include <stdexcept>
#include <string>

namespace rbees::grammar {

class GrammarError : public std::invalid_argument {
 public:
  explicit GrammarError(const std::string& what) : std::invalid_argument(what) {}
};

}  // namespace rbees::grammar
