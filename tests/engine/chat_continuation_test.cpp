// Continuing a conversation's final assistant message (continue_final_message, or
// add_generation_prompt off with an assistant message last) through real chat templates: the
// project's own and, from ../shared, seven well-known families'. The rendering must end with that
// message's text as given, where the closed conversation would close it.
#include "engine/prompt.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace rbees::engine {
namespace {

const std::filesystem::path kRefs = std::filesystem::path(RBEES_SHARED_DIR) / "tokenizers/chat-template-refs.json";

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ChatPrompt conversation(const std::string& last_assistant) {
  ChatPrompt c;
  c.messages = nlohmann::json::array(
      {{{"role", "user"}, {"content", "Who is Pierre?"}}, {{"role", "assistant"}, {"content", last_assistant}}});
  return c;
}

void check_template(const std::string& name, const chat::ChatTemplate& tmpl) {
  SCOPED_TRACE(name);
  chat::RenderOptions opts;
  opts.bos_token = "<s>";
  opts.eos_token = "</s>";
  opts.date = chat::Date{2026, 11, 22};
  // Hermes 2 Pro's tool-use template iterates the tools: it gets an empty list.
  if (name.find("tool_use") != std::string::npos) opts.tools = nlohmann::ordered_json::array();
  const std::string text = "Pierre is a count";

  ChatPrompt closed = conversation(text);
  closed.add_generation_prompt = false;
  closed.continue_final_message = false;
  // add_generation_prompt off and an assistant message last: continued (as continue_final_message).
  const std::string continued_by_flag = render_chat_prompt(tmpl, closed, opts);
  ChatPrompt cont = conversation(text);
  cont.add_generation_prompt = false;
  cont.continue_final_message = true;
  const std::string continued = render_chat_prompt(tmpl, cont, opts);
  EXPECT_EQ(continued_by_flag, continued);

  // The closed rendering, as the template writes it.
  auto messages = nlohmann::ordered_json::parse(cont.messages.dump());
  chat::RenderOptions plain = opts;
  plain.add_generation_prompt = false;
  const std::string full = tmpl.render(messages, plain);

  ASSERT_TRUE(continued.ends_with(text)) << continued;
  EXPECT_TRUE(full.starts_with(continued)) << "closed: " << full << "\ncontinued: " << continued;
  EXPECT_GT(full.size(), continued.size()) << "the closed message has its end marker";

  // A trailing space the template would trim is kept: the model goes on after it.
  const std::string spaced = render_chat_prompt(
      tmpl,
      [&] {
        ChatPrompt c = conversation(text + " ");
        c.continue_final_message = true;
        c.add_generation_prompt = false;
        return c;
      }(),
      opts);
  EXPECT_EQ(spaced, continued + " ");

  // With the generation prompt a new assistant turn follows the closed message instead.
  ChatPrompt next = conversation(text);
  const std::string with_turn = render_chat_prompt(tmpl, next, opts);
  EXPECT_TRUE(with_turn.starts_with(full)) << with_turn;
}

TEST(ChatContinuation, TheProjectsTemplate) {
  const chat::ChatTemplate tmpl(read_text(std::string(RBEES_SOURCE_DIR) + "/models/wp-llama-5m/chat_template.jinja"));
  check_template("wp-llama-5m", tmpl);
}

TEST(ChatContinuation, ReferenceTemplates) {
  if (!std::filesystem::exists(kRefs)) GTEST_SKIP() << "../shared is absent: no " << kRefs;
  const auto refs = nlohmann::ordered_json::parse(read_text(kRefs));
  int checked = 0;
  for (const auto& t : refs.at("templates")) {
    const chat::ChatTemplate tmpl(t.at("source").get<std::string>());
    check_template(t.at("template").get<std::string>(), tmpl);
    ++checked;
  }
  EXPECT_EQ(checked, 7);
}

TEST(ChatContinuation, NeedsAnAssistantMessageLast) {
  const chat::ChatTemplate tmpl(read_text(std::string(RBEES_SOURCE_DIR) + "/models/wp-llama-5m/chat_template.jinja"));
  ChatPrompt c;
  c.messages = nlohmann::json::array({{{"role", "user"}, {"content", "Hi"}}});
  c.continue_final_message = true;
  c.add_generation_prompt = false;
  try {
    render_chat_prompt(tmpl, c, {});
    FAIL() << "expected InvalidPrompt";
  } catch (const InvalidPrompt& e) {
    EXPECT_EQ(e.field, "continue_final_message");
  }
  // Without continuing, add_generation_prompt off leaves a user message last as it is.
  c.continue_final_message = false;
  EXPECT_EQ(render_chat_prompt(tmpl, c, {}), "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

}  // namespace
}  // namespace rbees::engine
