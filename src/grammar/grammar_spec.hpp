#pragma once
// What a request asks to constrain its output to: a GBNF grammar, a JSON Schema, or any JSON object.

#include <string>

namespace rbees::grammar {

enum class GrammarKind { kGbnf, kJsonSchema, kJsonObject };

struct GrammarSpec {
  GrammarKind kind = GrammarKind::kGbnf;
  std::string text;  // GBNF, or the JSON Schema as JSON text; unused for kJsonObject
};

}  // namespace rbees::grammar
