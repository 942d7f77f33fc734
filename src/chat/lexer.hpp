#pragma once
// Splits template source into text and tag tokens the way jinja2's lexer does under transformers'
// settings (trim_blocks, lstrip_blocks, newlines normalised to "\n", one trailing newline dropped),
// including the whitespace control markers {%- -%} {{- -}} {#- -#} and their "+" counterparts.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rbees::chat {

enum class TokenType { kText, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };

struct Token {
  TokenType type;
  std::string text;  // text, name, operator, or the decoded string literal
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
};

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Throws TemplateError on unterminated tags, strings or comments.
std::vector<Token> tokenize(std::string_view source, const LexerOptions& opts = {});

}  // namespace rbees::chat
