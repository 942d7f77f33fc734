#include "server/execute_request.hpp"
#include "server/openai_request.hpp"

#include <gtest/gtest.h>

namespace rbees::server {
namespace {

TEST(GrammarRequest, ResponseFormatSchemaKeepsTheClientsKeyOrder) {
  const auto p = parse_chat_completion_request(
      R"({"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema",
          "json_schema":{"name":"n","strict":false,"schema":{"type":"object","properties":{"zeta":{},"alpha":{}}}}}})");
  ASSERT_TRUE(p.ok()) << p.errors[0].message;
  const auto& g = p.value->request.grammar;
  ASSERT_TRUE(g);
  EXPECT_EQ(g->kind, grammar::GrammarKind::kJsonSchema);
  EXPECT_EQ(g->text, R"({"type":"object","properties":{"zeta":{},"alpha":{}}})");
  EXPECT_EQ(p.value->request.grammar_field, "response_format.json_schema.schema");
}

TEST(GrammarRequest, EachFormFillsTheGrammarSpec) {
  auto chat = [](const std::string& extra) {
    return parse_chat_completion_request(R"({"messages":[{"role":"user","content":"hi"}],)" + extra + "}");
  };
  auto p = chat(R"("response_format":{"type":"json_object"})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value->request.grammar->kind, grammar::GrammarKind::kJsonObject);
  p = chat(R"("response_format":{"type":"json_object","schema":{"type":"string"}})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value->request.grammar_field, "response_format.schema");
  p = chat(R"("response_format":{"type":"text"})");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p.value->request.grammar);
  p = chat(R"("grammar":"root ::= \"a\"")");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value->request.grammar->kind, grammar::GrammarKind::kGbnf);
  EXPECT_EQ(p.value->request.grammar->text, "root ::= \"a\"");
  const auto c = parse_completion_request(R"({"prompt":"x","json_schema":{"type":"integer"}})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value->request.grammar->text, R"({"type":"integer"})");
  const auto e = parse_execute_request(R"({"job_id":"j","prompt":"x","grammar":"root ::= \"b\""})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.value->grammar_field, "grammar");
}

TEST(GrammarRequest, MalformedFieldsAreNamed) {
  auto errors = [](const std::string& extra) {
    return parse_chat_completion_request(R"({"messages":[{"role":"user","content":"hi"}],)" + extra + "}").errors;
  };
  auto e = errors(R"("response_format":{"type":"json_schema","json_schema":{"name":"a b","schema":[]}})");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].field, "response_format.json_schema.name");
  EXPECT_EQ(e[1].field, "response_format.json_schema.schema");
  EXPECT_EQ(e[1].constraint, "type(object)");
  e = errors(R"("response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{},"extra":true}})");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].field, "response_format.json_schema.extra");
  e = errors(R"("response_format":{"type":"json_object"},"grammar":"root ::= \"a\"")");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].field, "grammar");
  EXPECT_EQ(e[0].constraint, "exclusive");
  e = errors(R"("json_schema":"{}")");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].field, "json_schema");
}

}  // namespace
}  // namespace rbees::server
