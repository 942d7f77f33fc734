#include "grammar/grammar_matcher.hpp"

#include "grammar/gbnf_parser.hpp"
#include "grammar/grammar_error.hpp"
#include "grammar/json_schema.hpp"
#include "grammar_test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace rbees::grammar {
namespace {

using testing::byte_vocab;
using testing::check_random_walk;
using testing::model_vocab;

bool matches(const std::string& gbnf, const std::string& text) {
  GrammarMatcher m(compile_gbnf(gbnf, byte_vocab()));
  return m.accept_bytes(text) && m.can_end();
}

TEST(GrammarMatcher, AcceptsExactlyTheLanguage) {
  const std::string g = "root ::= \"a\"{2,3} [0-9]* (\"x\" | \"yz\")?\n";
  EXPECT_TRUE(matches(g, "aa"));
  EXPECT_TRUE(matches(g, "aaa123yz"));
  EXPECT_FALSE(matches(g, "a"));
  EXPECT_FALSE(matches(g, "aaaa"));
  EXPECT_FALSE(matches(g, "aa1y"));
  EXPECT_TRUE(matches("root ::= [^a]+\n", "é€𝄞b"));
  EXPECT_FALSE(matches("root ::= [^a]+\n", "ba"));
  EXPECT_FALSE(matches("root ::= .\n", "\xc3"));  // half a character
}

TEST(GrammarMatcher, EndTokenOnlyWhereTheGrammarEnds) {
  GrammarMatcher m(compile_gbnf("root ::= \"ab\" \"c\"?\n", byte_vocab()));
  EXPECT_FALSE(m.is_allowed(0));
  EXPECT_TRUE(m.is_allowed('a'));
  EXPECT_FALSE(m.accept(0));
  ASSERT_TRUE(m.accept('a'));
  ASSERT_TRUE(m.accept('b'));
  EXPECT_TRUE(m.is_allowed(0));
  EXPECT_TRUE(m.is_allowed('c'));
  EXPECT_FALSE(m.is_allowed('d'));
  ASSERT_TRUE(m.accept('c'));
  EXPECT_TRUE(m.finished());
  EXPECT_TRUE(m.accept(0));
  EXPECT_FALSE(m.accept('c'));
}

TEST(GrammarMatcher, RightRecursionDoesNotDeepenTheStack) {
  // 100k characters of a repetition stay a constant-size state.
  GrammarMatcher m(compile_gbnf("root ::= \"[\" [a-z]* \"]\"\n", byte_vocab()));
  ASSERT_TRUE(m.accept_bytes("["));
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(m.accept('q'));
  EXPECT_TRUE(m.accept_bytes("]"));
  EXPECT_TRUE(m.finished());
}

TEST(GrammarMatcher, MasksMatchDirectSteppingForLlamaCppGrammars) {
  const std::filesystem::path dir = std::filesystem::path(RBEES_LLAMA_CPP_DIR) / "grammars";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no llama.cpp grammars at " << dir;
  for (const char* name : {"arithmetic.gbnf", "json.gbnf", "list.gbnf", "c.gbnf", "chess.gbnf"}) {
    std::ifstream in(dir / name);
    std::stringstream ss;
    ss << in.rdbuf();
    for (const auto& vocab : {byte_vocab(), model_vocab()}) {
      const auto g = compile_gbnf(ss.str(), vocab);
      for (uint64_t seed = 1; seed <= 3; ++seed) {
        SCOPED_TRACE(std::string(name) + " seed " + std::to_string(seed));
        check_random_walk(g, 40, seed);
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
}

TEST(GrammarMatcher, MasksMatchDirectSteppingForSchemas) {
  const char* schemas[] = {
      R"({"type":"object","properties":{"name":{"type":"string","maxLength":8},"age":{"type":"integer","minimum":-5,"maximum":130},
          "tags":{"type":"array","items":{"enum":["a","b\"c",3]},"maxItems":3}},"required":["name"]})",
      R"({"anyOf":[{"type":"number"},{"type":"string","pattern":"^[a-c]+x?$"},{"type":"null"}]})",
      R"({"type":"object","properties":{"a":{"type":"boolean"}},"additionalProperties":{"type":"integer"}})",
  };
  for (const char* s : schemas) {
    const auto g = compile_gbnf(json_schema_to_gbnf(s), model_vocab());
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      SCOPED_TRACE(std::string(s) + " seed " + std::to_string(seed));
      check_random_walk(g, 40, seed);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(GrammarMatcher, WalksToTheEndProduceValidJson) {
  // Random walks that finish (the end token chosen) give JSON that parses.
  const auto g = compile_gbnf(json_schema_to_gbnf(R"({"type":"object","properties":{"k":{"type":"array",
      "items":{"type":"integer","minimum":0,"maximum":9},"minItems":1,"maxItems":2}},"required":["k"],
      "additionalProperties":false})"),
                              byte_vocab());
  int finished = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    GrammarMatcher m(g);
    std::mt19937_64 rng(seed);
    std::string out;
    for (int i = 0; i < 200 && !m.finished(); ++i) {
      const auto mask = m.allowed_tokens();
      std::vector<int32_t> allowed;
      for (size_t t = 0; t < g->vocab().size(); ++t) {
        if ((mask[t >> 6] >> (t & 63)) & 1) allowed.push_back(static_cast<int32_t>(t));
      }
      ASSERT_FALSE(allowed.empty());
      const int32_t pick = allowed[rng() % allowed.size()];
      ASSERT_TRUE(m.accept(pick));
      if (pick != 0) out += g->vocab().token_bytes[static_cast<size_t>(pick)];
    }
    if (!m.finished()) continue;
    ++finished;
    const auto j = nlohmann::json::parse(out);
    ASSERT_TRUE(j.is_object()) << out;
    ASSERT_EQ(j.size(), 1u) << out;
    const auto& k = j.at("k");
    ASSERT_TRUE(k.size() >= 1 && k.size() <= 2) << out;
    for (const auto& x : k) EXPECT_TRUE(x.is_number_integer() && x.get<int>() >= 0 && x.get<int>() <= 9) << out;
  }
  EXPECT_GT(finished, 10);
}

}  // namespace
}  // namespace rbees::grammar

namespace rbees::grammar {
namespace {

// Long counted repetitions are chains of rules, one per count, whose lower counts are sorted on
// first use: the masks still match stepping every token directly, to the chain's end.
TEST(GrammarMatcher, CountedRepetitionsSortedOnFirstUseKeepExactMasks) {
  const char* grammars[] = {
      "root ::= \"\\\"\" [a-z ]{0,120} \"\\\"\"\n",
      "root ::= \"\\\"\" char{0,90} \"\\\"\" \" \" [a-z]{25,40}\nchar ::= [a-z .,] | \"\\\\\" [nt\"]\n",
      "root ::= ( [a-z] [a-z]? ){3,60} \".\"\n",
      "root ::= ( \"a\"? \" \"? ){0,40} \"!\"\n",  // an item that can be empty
  };
  for (const char* text : grammars) {
    const auto g = compile_gbnf(text, model_vocab());
    for (uint64_t seed = 1; seed <= 6; ++seed) {
      SCOPED_TRACE(std::string(text) + " seed " + std::to_string(seed));
      check_random_walk(g, 80, seed);
      if (::testing::Test::HasFailure()) return;
    }
  }
  const auto shared = compile_gbnf(grammars[0], model_vocab());
  // Of 121 counts' positions, those of the first (highest) count and the quotes are sorted at once.
  EXPECT_EQ(shared->position_count() - shared->deferred_count(), 3u);
  EXPECT_EQ(shared->deferred_count(), 119u);
  // Exactly the counts: 120 letters and no more.
  GrammarMatcher m(shared);
  EXPECT_TRUE(m.accept_bytes("\"" + std::string(120, 'a')));
  const auto& bytes = model_vocab()->token_bytes;
  const auto id_of = [&](const std::string& t) {
    return static_cast<int32_t>(std::find(bytes.begin(), bytes.end(), t) - bytes.begin());
  };
  EXPECT_FALSE(m.is_allowed(id_of("a")));
  EXPECT_TRUE(m.is_allowed(id_of("\"")));
  EXPECT_FALSE(GrammarMatcher(shared).accept_bytes("\"" + std::string(121, 'a')));
  GrammarMatcher exact(compile_gbnf(grammars[1], model_vocab()));
  EXPECT_TRUE(exact.accept_bytes("\"a\\\"b\" " + std::string(25, 'q')));
  EXPECT_TRUE(exact.can_end());
  EXPECT_FALSE(GrammarMatcher(compile_gbnf(grammars[1], model_vocab())).accept_bytes("\"\" " + std::string(41, 'q')));
}

}  // namespace
}  // namespace rbees::grammar
