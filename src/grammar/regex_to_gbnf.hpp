#pragma once
// A JSON Schema `pattern` (ECMA-262 syntax, a practical subset) as a GBNF expression over the
// characters of a JSON string's content, so the escapes JSON needs (\" \\ control characters) are
// what the grammar produces. Supported: literals, escapes (\d \w \s and their negations, \t \n \r
// \f \v, \uXXXX, escaped punctuation), classes [...] and [^...], `.`, groups (...) and (?:...),
// alternation, the quantifiers * + ? {m} {m,} {m,n} (lazy forms too: the language is the same),
// and ^ / $ at the ends of the pattern. Anything else (backreferences, lookaround, \b, named
// groups, anchors elsewhere) is refused with a GrammarError naming it.

#include <string>
#include <string_view>

namespace rbees::grammar {

// `json_char` is the name of a rule matching any one character of JSON string content (escapes
// included); an unanchored pattern may be surrounded by any characters, as the pattern's search
// semantics allow.
std::string regex_to_gbnf(std::string_view pattern, const std::string& json_char);

}  // namespace rbees::grammar
