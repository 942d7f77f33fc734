// Seven real chat templates rendered by transformers (jinja2, trim_blocks + lstrip_blocks) on
// 2026-11-22: every case must render byte for byte, and cases that raised must raise
// (raise_exception with the same message).
#include "chat/chat_template.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace rbees::chat {
namespace {

const std::filesystem::path kRefs = std::filesystem::path(RBEES_SHARED_DIR) / "tokenizers/chat-template-refs.json";

TEST(ReferenceTemplates, RenderLikeTransformers) {
  if (!std::filesystem::exists(kRefs)) GTEST_SKIP() << "../shared is absent: no " << kRefs;
  std::ifstream in(kRefs);
  const auto refs = nlohmann::ordered_json::parse(in);
  int rendered = 0, raised = 0;
  for (const auto& t : refs.at("templates")) {
    const std::string name = t.at("template").get<std::string>();
    std::unique_ptr<ChatTemplate> tmpl;
    ASSERT_NO_THROW(tmpl = std::make_unique<ChatTemplate>(t.at("source").get<std::string>())) << name;
    int index = 0;
    for (const auto& c : t.at("cases")) {
      SCOPED_TRACE(name + " case " + std::to_string(index++));
      RenderOptions opts;
      opts.add_generation_prompt = c.at("add_generation_prompt").get<bool>();
      opts.bos_token = c.at("bos_token").get<std::string>();
      opts.eos_token = c.at("eos_token").get<std::string>();
      opts.date = Date{2026, 11, 22};
      if (c.contains("rendered")) {
        std::string out;
        try {
          out = tmpl->render(c.at("messages"), opts);
        } catch (const TemplateError& e) {
          ADD_FAILURE() << "raised: " << e.what();
          continue;
        }
        EXPECT_EQ(out, c.at("rendered").get<std::string>());
        ++rendered;
      } else {
        const std::string error = c.at("error").get<std::string>();
        try {
          tmpl->render(c.at("messages"), opts);
          ADD_FAILURE() << "expected an error: " << error;
        } catch (const TemplateError& e) {
          const std::string prefix = "TemplateError: ";
          if (error.rfind(prefix, 0) == 0) EXPECT_EQ(std::string(e.what()), error.substr(prefix.size()));
        }
        ++raised;
      }
    }
  }
  EXPECT_EQ(rendered + raised, 42);
  std::cout << "reference cases: " << rendered << " rendered, " << raised << " raised\n";
}

}  // namespace
}  // namespace rbees::chat
