// The ChatTemplate API: the variables a chat template sees, errors, and behaviour that jinja2 under
// transformers does not define in the same way (lenient undefined attributes, {% generation %}).
#include "chat/chat_template.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <thread>

namespace rbees::chat {
namespace {

using Json = nlohmann::ordered_json;

const Json kTwoMessages =
    Json::parse(R"([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yes"}])");

std::string render(const std::string& tmpl, const RenderOptions& opts = {}) {
  return ChatTemplate(tmpl).render(kTwoMessages, opts);
}

TEST(ChatTemplateApi, SeesMessagesTokensAndGenerationFlag) {
  RenderOptions opts;
  opts.bos_token = "<s>";
  opts.eos_token = "</s>";
  const std::string tmpl =
      "{{ bos_token }}{% for m in messages %}{{ m.role }}={{ m.content }}{{ eos_token }}{% endfor %}"
      "{% if add_generation_prompt %}>{% endif %}";
  EXPECT_EQ(render(tmpl, opts), "<s>user=Hi</s>assistant=Yes</s>>");
  opts.add_generation_prompt = false;
  EXPECT_EQ(render(tmpl, opts), "<s>user=Hi</s>assistant=Yes</s>");
}

TEST(ChatTemplateApi, ToolsAreNoneUnlessGiven) {
  const std::string tmpl =
      "{{ tools is defined }} {{ tools is none }} {% for t in tools or [] %}{{ t.name }}{% endfor %}";
  EXPECT_EQ(render(tmpl), "True True ");
  RenderOptions opts;
  opts.tools = Json::parse(R"([{"name": "a"}, {"name": "b"}])");
  EXPECT_EQ(render(tmpl, opts), "True False ab");
}

TEST(ChatTemplateApi, ExtraContextAddsAndOverridesVariables) {
  RenderOptions opts;
  opts.extra_context = Json::parse(R"({"enable_thinking": false, "bos_token": "[B]"})");
  EXPECT_EQ(render("{{ bos_token }}{{ enable_thinking }}", opts), "[B]False");
}

TEST(ChatTemplateApi, RaiseExceptionCarriesTheMessageExactly) {
  try {
    render(
        "{% if messages[0].role == 'user' %}{{ raise_exception('Roles must alternate: ' ~ messages | length) }}{% "
        "endif %}");
    FAIL() << "expected TemplateError";
  } catch (const TemplateError& e) {
    EXPECT_STREQ(e.what(), "Roles must alternate: 2");
  }
}

TEST(ChatTemplateApi, SyntaxErrorsNameTheLine) {
  try {
    ChatTemplate("line one\n{% for x in %}\n{% endfor %}");
    FAIL() << "expected TemplateError";
  } catch (const TemplateError& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ChatTemplate("{% if true %}unclosed"), TemplateError);
  EXPECT_THROW(ChatTemplate("{{ 'unterminated }}"), TemplateError);
  EXPECT_THROW(ChatTemplate("{% break %}"), TemplateError);  // outside a loop
}

TEST(ChatTemplateApi, TemplateErrorIsARuntimeError) {
  EXPECT_THROW(render("{{ messages + 1 }}"), std::runtime_error);
}

TEST(ChatTemplateApi, UndefinedChainsAreLenient) {
  // Printing undefined gives "", and so does any attribute or item of it; arithmetic on it raises.
  EXPECT_EQ(render("[{{ missing }}][{{ missing.attr.deeper }}][{{ missing['x'][0] }}][{{ messages[0].nope.x }}]"),
            "[][][][]");
  EXPECT_EQ(render("{{ missing | length }}{{ missing | default('d') }}{{ missing is defined }}"), "0dFalse");
  EXPECT_THROW(render("{{ missing - 1 }}"), TemplateError);
  EXPECT_THROW(render("{{ missing < 1 }}"), TemplateError);
}

TEST(ChatTemplateApi, GenerationBlockRendersItsBody) {
  // transformers' {% generation %} marks assistant text for masks; the rendered text is unchanged.
  EXPECT_EQ(render("{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}"
                   "{% endgeneration %}{% endif %}{% endfor %}"),
            "Yes");
}

TEST(ChatTemplateApi, StrftimeNowPinnedAndCurrent) {
  RenderOptions opts;
  opts.date = Date{2024, 2, 29};
  EXPECT_EQ(render("{{ strftime_now('%Y-%m-%d %a %d %b %Y %H:%M') }}", opts), "2024-02-29 Thu 29 Feb 2024 00:00");

  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char year[8];
  std::strftime(year, sizeof year, "%Y", &tm);
  EXPECT_EQ(render("{{ strftime_now('%Y') }}"), year);  // fails only if run across New Year's midnight
}

TEST(ChatTemplateApi, RendersConcurrently) {
  const ChatTemplate tmpl(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + m.content | length %}{% endfor %}"
      "{{ ns.n }}");
  std::vector<std::string> results(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) results[i] = tmpl.render(kTwoMessages, {});
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r, "5");
}

TEST(ChatTemplateApi, MovesAndKeepsSource) {
  ChatTemplate a("{{ messages | length }}");
  ChatTemplate b = std::move(a);
  EXPECT_EQ(b.source(), "{{ messages | length }}");
  EXPECT_EQ(b.render(kTwoMessages, {}), "2");
}

}  // namespace
}  // namespace rbees::chat
