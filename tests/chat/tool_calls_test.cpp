#include "chat/tool_calls.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace rbees::chat {
namespace {

std::string read_template(const std::string& name) {
  const auto path = std::filesystem::path(RBEES_LLAMA_CPP_DIR) / "models" / "templates" / name;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ToolCalls, FormatComesFromTheRealTemplates) {
  if (!std::filesystem::exists(std::filesystem::path(RBEES_LLAMA_CPP_DIR) / "models" / "templates")) {
    GTEST_SKIP() << "no templates in the llama.cpp snapshot at " << RBEES_LLAMA_CPP_DIR;
  }
  EXPECT_EQ(detect_tool_call_format(read_template("meta-llama-Llama-3.1-8B-Instruct.jinja")), ToolCallFormat::kLlama3);
  EXPECT_EQ(detect_tool_call_format(read_template("Qwen-Qwen2.5-7B-Instruct.jinja")), ToolCallFormat::kHermes);
  EXPECT_EQ(detect_tool_call_format(read_template("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja")),
            ToolCallFormat::kHermes);
  EXPECT_EQ(detect_tool_call_format(read_template("mistralai-Mistral-Nemo-Instruct-2407.jinja")),
            ToolCallFormat::kMistral);
  EXPECT_EQ(detect_tool_call_format("{{ messages[0].content }}"), ToolCallFormat::kNone);
}

TEST(ToolCalls, Llama3) {
  auto p = parse_tool_calls(R"({"name": "get_weather", "parameters": {"city": "Moscow", "days": 3}})",
                            ToolCallFormat::kLlama3);
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_FALSE(p.incomplete);
  EXPECT_EQ(p.content, "");
  EXPECT_EQ(p.calls[0].name, "get_weather");
  EXPECT_EQ(p.calls[0].arguments, R"({"city":"Moscow","days":3})");
  // After the python tag, two calls separated by ';', arguments with nested JSON and escaped quotes.
  p = parse_tool_calls(
      "<|python_tag|>{\"name\": \"a\", \"parameters\": {\"q\": \"say \\\"hi\\\" {not json}\", \"n\": {\"k\": [1, "
      "2]}}}; "
      "{\"name\": \"b\", \"parameters\": {}}",
      ToolCallFormat::kLlama3);
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_EQ(p.calls[0].arguments, R"({"q":"say \"hi\" {not json}","n":{"k":[1,2]}})");
  EXPECT_EQ(p.calls[1].name, "b");
  EXPECT_EQ(p.calls[1].arguments, "{}");
  // Prose after a call: the call, and where it ends.
  p = parse_tool_calls(R"({"name": "a", "parameters": {}} and then)", ToolCallFormat::kLlama3);
  EXPECT_TRUE(p.incomplete);
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls_end, 31u);
  // Cut short: incomplete, the text kept as content.
  p = parse_tool_calls(R"(<|python_tag|>{"name": "a", "parameters": {"q": "unfini)", ToolCallFormat::kLlama3);
  EXPECT_TRUE(p.incomplete);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, R"(<|python_tag|>{"name": "a", "parameters": {"q": "unfini)");
  // Prose, or a JSON object that is not a call, is content.
  p = parse_tool_calls("The weather is fine.", ToolCallFormat::kLlama3);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_FALSE(p.incomplete);
  EXPECT_EQ(p.content, "The weather is fine.");
  p = parse_tool_calls(R"({"answer": 42})", ToolCallFormat::kLlama3);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_FALSE(p.incomplete);
}

TEST(ToolCalls, HermesAndQwen) {
  const std::string two =
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris \\\"Lutetia\\\"\"}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": {\"name\": \"CET\"}}}\n</tool_call>";
  auto p = parse_tool_calls(two, ToolCallFormat::kHermes);
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_FALSE(p.incomplete);
  EXPECT_EQ(p.content, "Let me check.");
  EXPECT_EQ(p.calls[0].arguments, R"({"city":"Paris \"Lutetia\""})");
  EXPECT_EQ(p.calls[1].name, "get_time");
  EXPECT_EQ(p.calls[1].arguments, R"({"tz":{"name":"CET"}})");
  EXPECT_EQ(p.calls_end, two.size());
  // The second call cut short: the first is kept, the output flagged, the rest after the first.
  p = parse_tool_calls(two.substr(0, two.size() - 20), ToolCallFormat::kHermes);
  EXPECT_TRUE(p.incomplete);
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(two.substr(p.calls_end, 13), "\n<tool_call>\n");
  // A call without its closing tag.
  p = parse_tool_calls("<tool_call>\n{\"name\": \"f\", \"arguments\": {}}", ToolCallFormat::kHermes);
  EXPECT_TRUE(p.incomplete);
  p = parse_tool_calls("No tools needed.", ToolCallFormat::kHermes);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, "No tools needed.");
}

TEST(ToolCalls, Mistral) {
  auto p = parse_tool_calls(
      R"([TOOL_CALLS][{"name": "add", "arguments": {"a": 1, "b": {"c": "x\"y"}}, "id": "abc123XYZ"}, {"name": "neg", "arguments": "{\"a\": 2}"}])",
      ToolCallFormat::kMistral);
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_FALSE(p.incomplete);
  EXPECT_EQ(p.calls[0].id, "abc123XYZ");
  EXPECT_EQ(p.calls[0].arguments, R"({"a":1,"b":{"c":"x\"y"}})");
  EXPECT_EQ(p.calls[1].arguments, R"({"a":2})");
  p = parse_tool_calls(R"([TOOL_CALLS][{"name": "add", "arguments": {"a": 1)", ToolCallFormat::kMistral);
  EXPECT_TRUE(p.incomplete);
  EXPECT_TRUE(p.calls.empty());
  // A complete first call in an array cut short does not count: the array is the unit.
  p = parse_tool_calls(R"([TOOL_CALLS][{"name": "add", "arguments": {}}, {"name": "n)", ToolCallFormat::kMistral);
  EXPECT_TRUE(p.incomplete);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.calls_end, 0u);
}

}  // namespace
}  // namespace rbees::chat
