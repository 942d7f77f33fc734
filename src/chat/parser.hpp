#pragma once
// Recursive-descent parser from tokens to a syntax tree, with jinja2's operator precedence
// (filters and tests bind tighter than arithmetic: `a + b | trim` is `a + (b | trim)`).

#include "chat/ast.hpp"
#include "chat/lexer.hpp"

#include <vector>

namespace rbees::chat {

// Throws TemplateError with the line number on a syntax error, an unknown filter or test, or nesting
// deeper than the parser allows.
Body parse_template(std::vector<Token> tokens);

}  // namespace rbees::chat
