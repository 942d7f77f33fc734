// One small template per language feature (output, whitespace control, operators, slicing, loops,
// namespaces, macros, filters, tests, methods, globals, errors), compared with what jinja2 renders
// under transformers' settings. data/jinja-refs.json is produced by make_jinja_refs.py.
#include "chat/chat_template.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace rbees::chat {
namespace {

const std::filesystem::path kRefs = std::filesystem::path(RBEES_SOURCE_DIR) / "tests/chat/data/jinja-refs.json";

nlohmann::ordered_json load_cases() {
  std::ifstream in(kRefs);
  if (!in) throw std::runtime_error("cannot read " + kRefs.string());
  return nlohmann::ordered_json::parse(in).at("cases");
}

class JinjaFeature : public ::testing::TestWithParam<nlohmann::ordered_json> {};

TEST_P(JinjaFeature, MatchesJinja2) {
  const auto& c = GetParam();
  const std::string tmpl = c.at("template").get<std::string>();
  SCOPED_TRACE("template: " + tmpl);
  RenderOptions opts;
  opts.date = Date{2026, 11, 22};
  if (c.contains("expected")) {
    try {
      EXPECT_EQ(ChatTemplate(tmpl).render_context(c.at("context"), opts), c.at("expected").get<std::string>());
    } catch (const TemplateError& e) {
      ADD_FAILURE() << "raised: " << e.what();
    }
    return;
  }
  const std::string error = c.at("error").get<std::string>();
  try {
    const std::string out = ChatTemplate(tmpl).render_context(c.at("context"), opts);
    ADD_FAILURE() << "expected " << error << ", rendered: " << out;
  } catch (const TemplateError& e) {
    const std::string prefix = "TemplateError: ";  // raise_exception: the message verbatim
    if (error.rfind(prefix, 0) == 0) EXPECT_EQ(std::string(e.what()), error.substr(prefix.size()));
  }
}

std::string case_name(const ::testing::TestParamInfo<nlohmann::ordered_json>& info) {
  return info.param.at("name").get<std::string>();
}

INSTANTIATE_TEST_SUITE_P(Jinja2Reference, JinjaFeature, ::testing::ValuesIn(load_cases()), case_name);

}  // namespace
}  // namespace rbees::chat
