// Tool-use conversations (tools passed, assistant tool calls, tool results) through the seven
// reference chat templates of ../shared, against jinja2 under transformers' settings
// (data/chat-tool-refs.json, made by make_jinja_refs.py --tools).
#include "chat/chat_template.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>

namespace rbees::chat {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

TEST(ToolConversations, RenderLikeJinja2) {
  const fs::path shared = fs::path(RBEES_SHARED_DIR) / "tokenizers/chat-template-refs.json";
  if (!fs::exists(shared)) GTEST_SKIP() << "../shared is absent: no " << shared;
  std::map<std::string, std::string> sources;
  {
    std::ifstream in(shared);
    const Json refs = Json::parse(in);
    for (const auto& t : refs.at("templates")) sources[t.at("template")] = t.at("source");
  }
  std::ifstream in(fs::path(RBEES_SOURCE_DIR) / "tests/chat/data/chat-tool-refs.json");
  ASSERT_TRUE(in) << "missing tests/chat/data/chat-tool-refs.json";
  int rendered = 0, raised = 0, index = 0;
  const Json cases = Json::parse(in).at("cases");
  for (const auto& c : cases) {
    const std::string name = c.at("template");
    SCOPED_TRACE(name + " case " + std::to_string(index++));
    ASSERT_TRUE(sources.count(name)) << "template not in ../shared: " << name;
    RenderOptions opts;
    opts.add_generation_prompt = c.at("add_generation_prompt");
    opts.bos_token = c.at("bos_token");
    opts.eos_token = c.at("eos_token");
    opts.tools = c.at("tools");
    opts.date = Date{2026, 11, 22};
    const ChatTemplate tmpl(sources[name]);
    if (c.contains("expected")) {
      try {
        EXPECT_EQ(tmpl.render(c.at("messages"), opts), c.at("expected").get<std::string>());
        ++rendered;
      } catch (const TemplateError& e) {
        ADD_FAILURE() << "raised: " << e.what();
      }
    } else {
      // jinja2 raised (raise_exception, or Hermes' unbounded recursion on array-typed parameters).
      EXPECT_THROW(tmpl.render(c.at("messages"), opts), TemplateError) << c.at("error");
      ++raised;
    }
  }
  std::cout << "tool conversations: " << rendered << " rendered, " << raised << " raised\n";
}

}  // namespace
}  // namespace rbees::chat
