// tools, tool_choice and the tool parts of messages: what is accepted, what the template gets, the
// 400s that name the field, and the grammars that force a call in each template's syntax.
#include "server/openai_request.hpp"

#include "grammar/byte_grammar.hpp"
#include "grammar/gbnf_parser.hpp"
#include "grammar/stack_automaton.hpp"

#include <gtest/gtest.h>

namespace rbees::server {
namespace {

using nlohmann::json;
using Ordered = nlohmann::ordered_json;

const char* kWeather = R"({"type":"function","function":{"name":"get_weather","description":"Weather now",
  "parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":20},
  "unit":{"enum":["c","f"]}},"required":["city","unit"],"additionalProperties":false}}})";
const char* kTime = R"({"type":"function","function":{"name":"get_time","parameters":{"type":"object",
  "properties":{"tz":{"$ref":"#/$defs/zone"}},"required":["tz"],"additionalProperties":false,
  "$defs":{"zone":{"type":"string","pattern":"^[A-Z]{3}$"}}}}})";

Parsed<OpenAiRequest> parse_with(const std::string& extra) {
  return parse_chat_completion_request(R"({"messages":[{"role":"user","content":"hi"}],)" + extra + "}");
}

std::vector<std::string> fields(const FieldErrors& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.field);
  return out;
}

TEST(ToolRequest, ToolsReachTheTemplateInTheClientsOrder) {
  auto r =
      parse_with(std::string(R"("tools":[)") + kWeather + "," + kTime +
                 R"(],"tool_choice":{"type":"function","function":{"name":"get_time"}},"parallel_tool_calls":false)");
  ASSERT_TRUE(r.ok()) << openai_error_body(r.errors).dump();
  const auto& chat = std::get<engine::ChatPrompt>(r.value->prompts.at(0));
  ASSERT_EQ(chat.tools.size(), 2u);
  EXPECT_EQ(chat.tools[0]["function"]["name"], "get_weather");
  // Key order kept: "description" before "parameters", "city" before "unit".
  EXPECT_EQ(chat.tools[0]["function"].begin().key(), "name");
  EXPECT_EQ(chat.tools[0]["function"]["parameters"]["properties"].begin().key(), "city");
  ASSERT_TRUE(r.value->tools);
  EXPECT_EQ(r.value->tools->choice, ToolChoiceMode::kFunction);
  EXPECT_EQ(r.value->tools->function, "get_time");
  EXPECT_FALSE(r.value->tools->parallel);
  for (const char* choice : {"none", "auto", "required"}) {
    auto c = parse_with(std::string(R"("tools":[)") + kWeather + R"(],"tool_choice":")" + choice + "\"");
    ASSERT_TRUE(c.ok()) << choice;
  }
}

TEST(ToolRequest, MalformedToolsNameTheField) {
  auto r = parse_with(R"("tools":{"type":"function"})");
  EXPECT_EQ(fields(r.errors), std::vector<std::string>{"tools"});
  r = parse_with(R"("tools":[{"type":"function","function":{"description":"x"}}])");
  EXPECT_EQ(fields(r.errors), std::vector<std::string>{"tools[0].function.name"});
  r = parse_with(R"("tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}])");
  EXPECT_EQ(fields(r.errors), std::vector<std::string>{"tools[0].function.parameters"});
  r = parse_with(R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",
      "properties":{"x":{"type":"string","contentEncoding":"base64"}}}}}])");
  ASSERT_EQ(fields(r.errors), std::vector<std::string>{"tools[0].function.parameters"});
  EXPECT_NE(r.errors[0].message.find("contentEncoding"), std::string::npos) << r.errors[0].message;
  r = parse_with(R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"array"}}}])");
  EXPECT_EQ(fields(r.errors), std::vector<std::string>{"tools[0].function.parameters"});
  r = parse_with(R"("tools":[{"type":"retrieval","function":{"name":"f"}},{"type":"function","function":{"name":"f"}},
      {"type":"function","function":{"name":"f","extra":1}},{"type":"function","function":{"name":"bad name"}}])");
  EXPECT_EQ(fields(r.errors),
            (std::vector<std::string>{"tools[0].type", "tools[1].function.name", "tools[2].function.extra",
                                      "tools[2].function.name", "tools[3].function.name"}));
  r = parse_with(R"("tools":[])");
  EXPECT_EQ(fields(r.errors), std::vector<std::string>{"tools"});
}

TEST(ToolRequest, ToolChoiceMustNameAListedFunction) {
  auto r = parse_with(std::string(R"("tools":[)") + kWeather +
                      R"(],"tool_choice":{"type":"function","function":{"name":"get_time"}})");
  ASSERT_EQ(fields(r.errors), std::vector<std::string>{"tool_choice.function.name"});
  EXPECT_EQ(r.errors[0].constraint, "in(tools)");
  r = parse_with(R"("tool_choice":"required")");
  EXPECT_EQ(fields(r.errors), std::vector<std::string>{"tool_choice"});
  r = parse_with(std::string(R"("tools":[)") + kWeather + R"(],"tool_choice":"always")");
  EXPECT_EQ(fields(r.errors), std::vector<std::string>{"tool_choice"});
  r = parse_with(std::string(R"("tools":[)") + kWeather +
                 R"(],"tool_choice":"required","response_format":{"type":"json_object"})");
  EXPECT_EQ(fields(r.errors), std::vector<std::string>{"tool_choice"});
  r = parse_with(std::string(R"("tools":[)") + kWeather + R"(],"parallel_tool_calls":"yes")");
  EXPECT_EQ(fields(r.errors), std::vector<std::string>{"parallel_tool_calls"});
}

TEST(ToolRequest, AssistantCallsAndToolResultsAreRenderedBack) {
  auto r = parse_chat_completion_request(R"({"messages":[{"role":"user","content":"Weather?"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"call12345","type":"function",
      "function":{"name":"get_weather","arguments":"{\"city\": \"Paris \\\"Lutetia\\\"\", \"unit\": \"c\"}"}}]},
    {"role":"tool","tool_call_id":"call12345","content":"{\"temp\": 12}"}]})");
  ASSERT_TRUE(r.ok()) << openai_error_body(r.errors).dump();
  const auto& m = std::get<engine::ChatPrompt>(r.value->prompts.at(0)).messages;
  EXPECT_EQ(m[1]["content"], "");
  const Ordered& call = m[1]["tool_calls"][0];
  EXPECT_EQ(call["id"], "call12345");
  EXPECT_EQ(call["function"]["name"], "get_weather");
  // The arguments as an object, in the client's order (templates print them with tojson).
  EXPECT_EQ(call["function"]["arguments"].dump(), R"({"city":"Paris \"Lutetia\"","unit":"c"})");
  EXPECT_EQ(m[2]["tool_call_id"], "call12345");
  EXPECT_FALSE(m[0].contains("tool_calls"));

  auto bad = parse_chat_completion_request(R"({"messages":[{"role":"user","content":"x","tool_calls":[]},
    {"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{not json"}},
      {"type":"function","function":{"name":"f","arguments":"{}"}}]},
    {"role":"tool","content":"x"}]})");
  EXPECT_EQ(fields(bad.errors),
            (std::vector<std::string>{"messages[0].tool_calls", "messages[1].tool_calls[0].function.arguments",
                                      "messages[1].tool_calls[1].id", "messages[2].tool_call_id"}));
}

// Whether the grammar takes `text` whole.
bool accepts(const std::string& gbnf, const std::string& text) {
  const grammar::ByteGrammar g = grammar::lower_to_bytes(grammar::parse_gbnf(gbnf));
  grammar::StackAutomaton a(g);
  const int32_t s = a.step(a.start_state(), text);
  return s != grammar::StackAutomaton::kDead && a.can_end(s);
}

ToolsRequest tools_of(const std::string& extra) {
  auto r = parse_with(std::string(R"("tools":[)") + kWeather + "," + kTime + "]," + extra);
  EXPECT_TRUE(r.ok()) << openai_error_body(r.errors).dump();
  return *r.value->tools;
}

TEST(ToolRequest, RequiredCallGrammarPerTemplate) {
  const ToolsRequest required = tools_of(R"("tool_choice":"required")");
  const std::string weather = R"({"name": "get_weather", "arguments": {"city": "Paris \"Lutetia\"", "unit": "c"}})";
  const std::string time = R"({"name": "get_time", "arguments": {"tz": "CET"}})";

  const std::string hermes = *tool_call_grammar(required, chat::ToolCallFormat::kHermes);
  EXPECT_TRUE(accepts(hermes, "<tool_call>\n" + weather + "\n</tool_call>"));
  EXPECT_TRUE(accepts(hermes, "<tool_call>\n" + weather + "\n</tool_call>\n<tool_call>\n" + time + "\n</tool_call>"));
  EXPECT_FALSE(accepts(hermes, weather));
  // Arguments outside the function's schema: a missing required key, a string past maxLength, a
  // value outside the enum, a $ref'd pattern, an unknown function.
  EXPECT_FALSE(accepts(hermes, R"(<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris"}}
</tool_call>)"));
  EXPECT_FALSE(accepts(hermes, R"(<tool_call>
{"name": "get_weather", "arguments": {"city": "Llanfairpwllgwyngyllgogerychwyrndrobwll", "unit": "c"}}
</tool_call>)"));
  EXPECT_FALSE(accepts(hermes, R"(<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris", "unit": "k"}}
</tool_call>)"));
  EXPECT_FALSE(accepts(hermes, R"(<tool_call>
{"name": "get_time", "arguments": {"tz": "cet"}}
</tool_call>)"));
  EXPECT_FALSE(accepts(hermes, R"(<tool_call>
{"name": "get_date", "arguments": {}}
</tool_call>)"));

  const std::string mistral = *tool_call_grammar(required, chat::ToolCallFormat::kMistral);
  EXPECT_TRUE(accepts(mistral, "[TOOL_CALLS][" + weather + ", " + time + "]"));
  EXPECT_FALSE(accepts(mistral, "[TOOL_CALLS]" + weather));

  const std::string llama = *tool_call_grammar(required, chat::ToolCallFormat::kLlama3);
  EXPECT_TRUE(accepts(llama, R"({"name": "get_time", "parameters": {"tz": "UTC"}})"));
  EXPECT_FALSE(accepts(llama, time));  // Llama 3.1 names them "parameters"

  // Named: that function only; not parallel: one call.
  const ToolsRequest named =
      tools_of(R"("tool_choice":{"type":"function","function":{"name":"get_time"}},"parallel_tool_calls":false)");
  const std::string one = *tool_call_grammar(named, chat::ToolCallFormat::kHermes);
  EXPECT_TRUE(accepts(one, "<tool_call>\n" + time + "\n</tool_call>"));
  EXPECT_FALSE(accepts(one, "<tool_call>\n" + weather + "\n</tool_call>"));
  EXPECT_FALSE(accepts(one, "<tool_call>\n" + time + "\n</tool_call>\n<tool_call>\n" + time + "\n</tool_call>"));

  EXPECT_FALSE(tool_call_grammar(tools_of(R"("tool_choice":"auto")"), chat::ToolCallFormat::kHermes));
  EXPECT_FALSE(tool_call_grammar(tools_of(R"("tool_choice":"none")"), chat::ToolCallFormat::kHermes));
}

}  // namespace
}  // namespace rbees::server
