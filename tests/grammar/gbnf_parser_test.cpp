#include "grammar/gbnf_parser.hpp"

#include "grammar/byte_grammar.hpp"
#include "grammar/grammar_error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace rbees::grammar {
namespace {

std::string error_of(const std::string& text) {
  try {
    lower_to_bytes(parse_gbnf(text));
  } catch (const GrammarError& e) {
    return e.what();
  }
  return "";
}

TEST(GbnfParser, ParsesRulesOperatorsAndEscapes) {
  const RuleSet rs = parse_gbnf(
      "# comment\n"
      "root ::= item (\",\" item)* \"\\n\" # trailing\n"
      "item ::= [a-z\\x41-\\u005A]{1,3} | \"\\\"\" [^\"]* \"\\\"\" | .?\n");
  ASSERT_EQ(rs.rules.size(), 2u);
  EXPECT_EQ(rs.rules[0].first, "root");
  EXPECT_EQ(rs.rules[1].first, "item");
  const Expr& item = rs.rules[1].second;
  ASSERT_EQ(item.kind, Expr::Kind::kAlternatives);
  ASSERT_EQ(item.items.size(), 3u);
  const Expr& rep = item.items[0];
  ASSERT_EQ(rep.kind, Expr::Kind::kRepeat);
  EXPECT_EQ(rep.min, 1);
  EXPECT_EQ(rep.max, 3);
  const Expr& cls = rep.items[0];
  ASSERT_EQ(cls.ranges.size(), 2u);
  EXPECT_EQ(cls.ranges[1].lo, 0x41u);
  EXPECT_EQ(cls.ranges[1].hi, 0x5Au);
}

TEST(GbnfParser, ParsesEveryGrammarShippedWithLlamaCpp) {
  const std::filesystem::path dir = std::filesystem::path(RBEES_LLAMA_CPP_DIR) / "grammars";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no llama.cpp grammars at " << dir;
  int n = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() != ".gbnf") continue;
    std::ifstream in(f.path());
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_NO_THROW(lower_to_bytes(parse_gbnf(ss.str()))) << f.path();
    ++n;
  }
  EXPECT_GE(n, 5);
}

TEST(GbnfParser, ErrorsNameTheProblemAndPlace) {
  EXPECT_EQ(error_of("item ::= \"a\"\n"), "grammar: no rule named 'root'");
  EXPECT_EQ(error_of("root ::= item\n"), "grammar: rule 'root' refers to undefined rule 'item'");
  EXPECT_EQ(error_of("root ::= \"a\"\nroot ::= \"b\"\n"), "grammar: rule 'root' is defined twice at line 2, column 13");
  EXPECT_EQ(error_of("root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\"\n"), "grammar: rule 'expr' is left-recursive");
  EXPECT_EQ(error_of("root ::= \"a\" <[42]>\n"), "grammar: token references are not supported at line 1, column 14");
  EXPECT_EQ(error_of("root ::= [ab\n"), "grammar: unterminated character class at line 2, column 1");
  EXPECT_EQ(error_of("root ::= \"a\"{3,1}\n"), "grammar: repetition {m,n} with n < m at line 1, column 18");
  EXPECT_EQ(error_of("root ::= \"\\q\"\n"), "grammar: unknown escape \\q at line 1, column 13");
  // A nullable prefix before the recursion is still left recursion.
  EXPECT_EQ(error_of("root ::= a\na ::= b a \"x\" | \"y\"\nb ::= \"b\"?\n"), "grammar: rule 'a' is left-recursive");
}

TEST(ByteGrammar, NonAsciiClassesBecomeUtf8Sequences) {
  const ByteGrammar g = lower_to_bytes(parse_gbnf("root ::= [é-ü]\n"));
  // U+00E9..U+00FC is C3 A9..C3 BC: one two-byte sequence.
  ASSERT_EQ(g.alternatives.size(), 2u);
  EXPECT_EQ(g.alternatives[1].size(), 1u);
}

}  // namespace
}  // namespace rbees::grammar
