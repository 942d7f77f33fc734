#include "grammar/json_schema.hpp"

#include "grammar/compiled_grammar.hpp"
#include "grammar/grammar_error.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar_test_support.hpp"

#include <gtest/gtest.h>

#include <map>

namespace rbees::grammar {
namespace {

bool valid(const std::string& schema, const std::string& instance) {
  static std::map<std::string, std::shared_ptr<const CompiledGrammar>> compiled;
  auto& g = compiled[schema];
  if (!g) g = compile_gbnf(json_schema_to_gbnf(schema), testing::byte_vocab());
  GrammarMatcher m(g);
  return m.accept_bytes(instance) && m.can_end();
}

std::string error_of(const std::string& schema) {
  try {
    compile_gbnf(json_schema_to_gbnf(schema), testing::byte_vocab());
  } catch (const GrammarError& e) {
    return e.what();
  }
  return "";
}

TEST(JsonSchema, ObjectsFollowPropertiesRequiredAndAdditional) {
  const std::string s = R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},
      "c":{"type":"boolean"}},"required":["b"],"additionalProperties":false})";
  EXPECT_TRUE(valid(s, R"({"b":"x"})"));
  EXPECT_TRUE(valid(s, R"({ "b": "x", "a": 1, "c": true })"));
  EXPECT_TRUE(valid(s, R"({"b":"x","c":false})"));
  EXPECT_FALSE(valid(s, R"({"a":1})"));            // b is required
  EXPECT_FALSE(valid(s, R"({"b":"x","d":1})"));    // no additional properties
  EXPECT_FALSE(valid(s, R"({"b":"x","a":"1"})"));  // a is an integer
  EXPECT_FALSE(valid(s, R"({"b":"x","a":1,"a":2})"));
  // Additional properties by default, but never under a declared name.
  const std::string open = R"({"type":"object","properties":{"ab":{"type":"integer"}}})";
  EXPECT_TRUE(valid(open, R"({"ab":1,"x":[1,{}]})"));
  EXPECT_TRUE(valid(open, R"({"a":"s","abc":null})"));
  EXPECT_FALSE(valid(open, R"({"ab":1,"ab":"s"})"));
  EXPECT_FALSE(valid(open, R"({"ab":"s"})"));
}

TEST(JsonSchema, ArraysTuplesAndBounds) {
  const std::string s = R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],
      "items":{"type":"boolean"},"minItems":1,"maxItems":4})";
  EXPECT_TRUE(valid(s, R"(["a"])"));
  EXPECT_TRUE(valid(s, R"(["a",1,true,false])"));
  EXPECT_FALSE(valid(s, R"([])"));
  EXPECT_FALSE(valid(s, R"(["a",1,true,false,true])"));
  EXPECT_FALSE(valid(s, R"(["a","b"])"));
  EXPECT_FALSE(valid(s, R"(["a",1,2])"));
  const std::string closed = R"({"type":"array","prefixItems":[{"type":"null"}],"items":false})";
  EXPECT_TRUE(valid(closed, "[null]"));
  EXPECT_FALSE(valid(closed, "[null,null]"));
}

TEST(JsonSchema, StringsNumbersEnumsAndCombinations) {
  EXPECT_TRUE(valid(R"({"type":"string","minLength":2,"maxLength":3})", R"("é\"")"));
  EXPECT_FALSE(valid(R"({"type":"string","minLength":2,"maxLength":3})", R"("abcd")"));
  EXPECT_TRUE(valid(R"({"type":"string","pattern":"^[a-z]+\\d{2}$"})", R"("ab12")"));
  EXPECT_FALSE(valid(R"({"type":"string","pattern":"^[a-z]+\\d{2}$"})", R"("ab1")"));
  EXPECT_TRUE(valid(R"({"type":"string","pattern":"b\"c"})", R"("aab\"cdd")"));  // unanchored
  EXPECT_TRUE(valid(R"({"type":"string","format":"date"})", R"("2024-02-29")"));
  EXPECT_FALSE(valid(R"({"type":"string","format":"date"})", R"("2023-02-29")"));
  EXPECT_TRUE(valid(R"({"type":"string","format":"uuid"})", R"("123e4567-e89b-12d3-a456-426614174000")"));
  EXPECT_TRUE(valid(R"({"type":"string","format":"email"})", R"("a.b@c.org")"));
  EXPECT_FALSE(valid(R"({"type":"string","format":"email"})", R"("a.b@c")"));
  for (int i = -120; i <= 120; ++i) {
    const bool in = i >= -17 && i <= 103;
    EXPECT_EQ(valid(R"({"type":"integer","minimum":-17,"maximum":103})", std::to_string(i)), in) << i;
    EXPECT_EQ(valid(R"({"type":"integer","exclusiveMinimum":-18,"exclusiveMaximum":104})", std::to_string(i)), in) << i;
  }
  EXPECT_TRUE(valid(R"({"type":"integer","minimum":95})", "100000"));
  EXPECT_FALSE(valid(R"({"type":"integer","minimum":95})", "94"));
  EXPECT_FALSE(valid(R"({"type":"integer"})", "01"));
  EXPECT_TRUE(valid(R"({"type":"number"})", "-0.5e+10"));
  EXPECT_TRUE(valid(R"({"enum":["a",1,null,{"k":[true]}]})", R"({"k":[true]})"));
  EXPECT_FALSE(valid(R"({"enum":["a",1,null]})", R"("b")"));
  EXPECT_TRUE(valid(R"({"const":"x"})", R"("x")"));
  const std::string any = R"({"anyOf":[{"type":"integer","maximum":3},{"type":"string","maxLength":1}]})";
  EXPECT_TRUE(valid(any, "3"));
  EXPECT_TRUE(valid(any, R"("q")"));
  EXPECT_FALSE(valid(any, "4"));
  const std::string all = R"({"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
      {"properties":{"a":{"maximum":5}}}]})";
  EXPECT_TRUE(valid(all, R"({"a":5})"));
  EXPECT_FALSE(valid(all, R"({"a":6})"));
  const std::string refs = R"({"$defs":{"node":{"type":"object","properties":{"next":{"anyOf":[{"type":"null"},
      {"$ref":"#/$defs/node"}]}},"required":["next"],"additionalProperties":false}},"$ref":"#/$defs/node"})";
  EXPECT_TRUE(valid(refs, R"({"next":{"next":{"next":null}}})"));
  EXPECT_FALSE(valid(refs, R"({"next":{"next":1}})"));
}

TEST(JsonSchema, NumberRangesWithIntegerBounds) {
  const std::vector<std::string> values = {"-3",   "-2.5", "-2",  "-2.0", "-1.75", "-0.5", "-0", "0",   "0.0",
                                           "0.25", "1",    "1.5", "2",    "2.00",  "2.01", "3",  "10.5"};
  struct Case {
    std::string schema;
    double lo, hi;
    bool lo_excl, hi_excl;
  };
  const std::vector<Case> cases = {
      {R"({"type":"number","minimum":-2,"maximum":2})", -2, 2, false, false},
      {R"({"type":"number","exclusiveMinimum":-2,"exclusiveMaximum":2})", -2, 2, true, true},
      {R"({"type":"number","minimum":0})", 0, 1e9, false, false},
      {R"({"type":"number","exclusiveMinimum":0,"maximum":2})", 0, 2, true, false},
      {R"({"type":"number","minimum":1,"exclusiveMaximum":3})", 1, 3, false, true},
      {R"({"type":"number","maximum":-2})", -1e9, -2, false, false},
      {R"({"type":"number","minimum":-3,"exclusiveMaximum":0})", -3, 0, false, true},
  };
  for (const auto& c : cases) {
    for (const auto& v : values) {
      const double x = std::stod(v);
      const bool in = (c.lo_excl ? x > c.lo : x >= c.lo) && (c.hi_excl ? x < c.hi : x <= c.hi);
      // "-0" is 0, but ranged numbers are generated without a sign on zero: a subset, never more.
      if (v == "-0") {
        EXPECT_FALSE(valid(c.schema, v) && !in) << c.schema;
        continue;
      }
      EXPECT_EQ(valid(c.schema, v), in) << c.schema << " " << v;
    }
  }
  EXPECT_EQ(error_of(R"({"type":"number","minimum":0.5})"),
            "json_schema: 'minimum' with a fraction is supported for type integer only at #");
}

TEST(JsonSchema, UnsupportedKeywordsAreRefusedByName) {
  EXPECT_EQ(error_of(R"({"type":"object","patternProperties":{"^a":{}}})"),
            "json_schema: unsupported keyword 'patternProperties' at #");
  EXPECT_EQ(error_of(R"({"properties":{"a":{"type":"integer","multipleOf":2}}})"),
            "json_schema: unsupported keyword 'multipleOf' at #/properties/a");
  EXPECT_EQ(error_of(R"({"type":"string","format":"hostname"})"), "json_schema: unsupported format 'hostname' at #");
  EXPECT_EQ(error_of(R"({"type":"array","uniqueItems":true})"), "json_schema: unsupported keyword 'uniqueItems' at #");
  EXPECT_EQ(error_of(R"({"$ref":"http://example.com/s.json"})"),
            "json_schema: $ref 'http://example.com/s.json' is not a reference within the schema (#...) at #");
  EXPECT_EQ(error_of(R"({"type":"strin"})"), "json_schema: unknown type 'strin' at #");
  EXPECT_EQ(error_of(R"x({"type":"string","pattern":"(?=a)"})x"),
            "json_schema: pattern: unsupported group (lookaround or named group) at offset 1 of '(?=a)' at #");
  EXPECT_EQ(error_of(R"({"oneOf":[{"type":"integer"},{"type":"number"}]})"),
            "json_schema: 'oneOf' branches 0 and 1 may match the same value (not supported) at #");
  EXPECT_EQ(error_of("{"),
            "json_schema: not valid JSON: [json.exception.parse_error.101] parse error at line 1, "
            "column 2: syntax error while parsing object key - unexpected end of input; expected string literal");
  EXPECT_EQ(error_of(R"({"oneOf":[{"type":"integer"},{"type":"string"}]})"), "");  // disjoint: enforced
}

}  // namespace
}  // namespace rbees::grammar
