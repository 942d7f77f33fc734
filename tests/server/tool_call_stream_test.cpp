// Model outputs in each template's tool-call syntax, fed whole and split at every byte: the
// content and calls that come out do not depend on how the text was cut into tokens.
#include "server/tool_call_stream.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace rbees::server {
namespace {

using chat::ToolCallFormat;

struct Result {
  std::string content;
  std::vector<chat::ToolCall> calls;
};

// The text pushed in pieces of `piece` bytes (0: whole), then finished.
Result run(std::string_view text, ToolCallFormat format, size_t piece = 0, bool parallel = true) {
  ToolCallStream s(format, parallel);
  Result r;
  auto take = [&](ToolCallStream::Output out) {
    r.content += out.content;
    for (auto& c : out.calls) r.calls.push_back(std::move(c));
  };
  if (piece == 0) {
    take(s.push(text));
  } else {
    for (size_t i = 0; i < text.size(); i += piece) take(s.push(text.substr(i, piece)));
  }
  take(s.finish());
  return r;
}

// Same result whole and cut into pieces of every size up to 7 bytes.
Result run_all_cuts(std::string_view text, ToolCallFormat format) {
  const Result whole = run(text, format);
  for (size_t piece = 1; piece <= 7; ++piece) {
    const Result cut = run(text, format, piece);
    EXPECT_EQ(cut.content, whole.content) << "pieces of " << piece;
    EXPECT_EQ(cut.calls.size(), whole.calls.size()) << "pieces of " << piece;
    for (size_t k = 0; k < std::min(cut.calls.size(), whole.calls.size()); ++k) {
      EXPECT_EQ(cut.calls[k].name, whole.calls[k].name);
      EXPECT_EQ(cut.calls[k].arguments, whole.calls[k].arguments);
    }
  }
  return whole;
}

TEST(ToolCallStream, HermesContentThenTwoCalls) {
  const std::string text =
      "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris \\\"Lutetia\\\"\", "
      "\"opts\": {\"days\": [1, 2]}}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n"
      "</tool_call>";
  const Result r = run_all_cuts(text, ToolCallFormat::kHermes);
  EXPECT_EQ(r.content, "Let me look.\n");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(nlohmann::json::parse(r.calls[0].arguments),
            nlohmann::json::parse(R"({"city": "Paris \"Lutetia\"", "opts": {"days": [1, 2]}})"));
  EXPECT_EQ(r.calls[1].name, "get_time");
  EXPECT_EQ(r.calls[1].arguments, "{}");
  EXPECT_EQ(r.calls[0].id.rfind("call_", 0), 0u);
  EXPECT_EQ(r.calls[0].id.size(), 29u);
  EXPECT_NE(r.calls[0].id, r.calls[1].id);
  // Not parallel: the first call only.
  EXPECT_EQ(run(text, ToolCallFormat::kHermes, 3, false).calls.size(), 1u);
}

TEST(ToolCallStream, TextThatOnlyLooksLikeAMarkerIsContent) {
  // "<tool" is held back until the next piece shows it is not a call.
  ToolCallStream s(ToolCallFormat::kHermes, true);
  EXPECT_EQ(s.push("a <tool").content, "a ");
  EXPECT_EQ(s.push("box> b").content, "<toolbox> b");
  EXPECT_EQ(s.push(" <").content, " ");
  EXPECT_EQ(s.finish().content, "<");
  EXPECT_EQ(s.call_count(), 0u);
  const Result r = run_all_cuts("[TOOL_CALL] is not [TOOL_CALLS without the bracket", ToolCallFormat::kMistral);
  EXPECT_EQ(r.content, "[TOOL_CALL] is not [TOOL_CALLS without the bracket");
}

TEST(ToolCallStream, HermesCutShortKeepsTheCompleteCallAndTheRestAsContent) {
  const std::string text =
      "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", "
      "\"argu";
  const Result r = run_all_cuts(text, ToolCallFormat::kHermes);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments, R"({"x":1})");
  EXPECT_EQ(r.content, "\n<tool_call>\n{\"name\": \"b\", \"argu");
}

TEST(ToolCallStream, Llama3BareJsonTaggedAndNot) {
  Result r = run_all_cuts("{\"name\": \"get_weather\", \"parameters\": {\"q\": \"say \\\"hi\\\" {not json}\"}}",
                          ToolCallFormat::kLlama3);
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments, R"({"q":"say \"hi\" {not json}"})");
  r = run_all_cuts(
      "<|python_tag|>{\"name\": \"a\", \"parameters\": {\"n\": {\"k\": [1, 2]}}}; {\"name\": \"b\", "
      "\"parameters\": {}}",
      ToolCallFormat::kLlama3);
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].arguments, R"({"n":{"k":[1,2]}})");
  EXPECT_EQ(r.calls[1].name, "b");
  // A JSON answer that is not a call, and prose with braces later on, are content.
  r = run_all_cuts("  {\"answer\": 42} and {\"name\": \"x\"}", ToolCallFormat::kLlama3);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "  {\"answer\": 42} and {\"name\": \"x\"}");
  r = run_all_cuts("The answer is {\"name\": \"a\", \"parameters\": {}}", ToolCallFormat::kLlama3);
  EXPECT_TRUE(r.calls.empty());
  // Cut short: everything is content.
  r = run_all_cuts("{\"name\": \"a\", \"parameters\": {\"q\": \"unfini", ToolCallFormat::kLlama3);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "{\"name\": \"a\", \"parameters\": {\"q\": \"unfini");
}

TEST(ToolCallStream, MistralArrayWithIds) {
  const Result r = run_all_cuts(
      R"(Sure. [TOOL_CALLS][{"name": "add", "arguments": {"a": 1, "b": {"c": "x\"y]"}}, "id": "abc123XYZ"}, {"name": "neg", "arguments": {"a": 2}}])",
      ToolCallFormat::kMistral);
  EXPECT_EQ(r.content, "Sure. ");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].id, "abc123XYZ");  // the model's own id, in the template's form, is kept
  EXPECT_EQ(r.calls[0].arguments, R"({"a":1,"b":{"c":"x\"y]"}})");
  EXPECT_EQ(r.calls[1].name, "neg");
  // An id for the template: nine letters and digits.
  ASSERT_EQ(r.calls[1].id.size(), 9u);
  for (char c : r.calls[1].id) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
  const Result cut =
      run_all_cuts(R"([TOOL_CALLS][{"name": "add", "arguments": {"a": 1}}, {"name": "n)", ToolCallFormat::kMistral);
  EXPECT_TRUE(cut.calls.empty());
  EXPECT_EQ(cut.content, R"([TOOL_CALLS][{"name": "add", "arguments": {"a": 1}}, {"name": "n)");
}

}  // namespace
}  // namespace rbees::server
