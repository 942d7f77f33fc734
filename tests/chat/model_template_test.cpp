// Finding a model's chat template and BOS/EOS texts in Hugging Face directories and GGUF files.
#include "chat/model_template.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace rbees::chat {
namespace {

namespace fs = std::filesystem;

const fs::path kSource(RBEES_SOURCE_DIR);
const fs::path kDefaultModel = kSource / "models/wp-llama-5m";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TempModelDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rbees-model-template-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name, std::ios::binary) << text; }
  fs::path dir_;
};

TEST(ModelTemplate, DefaultModelDirectory) {
  const auto tmpl = find_chat_template(kDefaultModel.string());
  ASSERT_TRUE(tmpl.has_value());
  EXPECT_EQ(*tmpl, slurp(kDefaultModel / "chat_template.jinja"));

  const auto config = nlohmann::json::parse(slurp(kDefaultModel / "tokenizer_config.json"));
  const SpecialTokenTexts tokens = find_special_token_texts(kDefaultModel.string());
  EXPECT_EQ(tokens.bos, config.at("bos_token").get<std::string>());
  EXPECT_EQ(tokens.eos, config.at("eos_token").get<std::string>());
}

TEST(ModelTemplate, AFileInsideADirectoryStandsForTheDirectory) {
  const auto tmpl = find_chat_template((kDefaultModel / "config.json").string());
  ASSERT_TRUE(tmpl.has_value());
  EXPECT_EQ(*tmpl, slurp(kDefaultModel / "chat_template.jinja"));
}

TEST(ModelTemplate, GgufMetadataMatchesTheHuggingFaceFiles) {
  for (const char* file : {"tests/data/wp-llama-5m-f16.gguf", "tests/data/wp-llama-5m-q8_0.gguf"}) {
    SCOPED_TRACE(file);
    const std::string path = (kSource / file).string();
    const auto tmpl = find_chat_template(path);
    ASSERT_TRUE(tmpl.has_value());
    EXPECT_EQ(*tmpl, slurp(kDefaultModel / "chat_template.jinja"));
    const SpecialTokenTexts gguf = find_special_token_texts(path);
    const SpecialTokenTexts hf = find_special_token_texts(kDefaultModel.string());
    EXPECT_EQ(gguf.bos, hf.bos);
    EXPECT_EQ(gguf.eos, hf.eos);
  }
}

TEST(ModelTemplate, GgufWithoutTemplate) {
  const fs::path path = fs::path(RBEES_SHARED_DIR) / "models/llama-2-tiny-random.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << "../shared is absent: no " << path;
  EXPECT_FALSE(find_chat_template(path.string()).has_value());
  const SpecialTokenTexts tokens = find_special_token_texts(path.string());
  EXPECT_EQ(tokens.bos, "<s>");
  EXPECT_EQ(tokens.eos, "</s>");
}

TEST_F(TempModelDir, NamedTemplateListPicksDefault) {
  write("tokenizer_config.json", R"({
    "chat_template": [{"name": "tool_use", "template": "TOOLS"}, {"name": "default", "template": "DEFAULT"}],
    "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": {"content": "</s>"}})");
  EXPECT_EQ(find_chat_template(dir_.string()).value_or("none"), "DEFAULT");
  const SpecialTokenTexts tokens = find_special_token_texts(dir_.string());
  EXPECT_EQ(tokens.bos, "<s>");
  EXPECT_EQ(tokens.eos, "</s>");
}

TEST_F(TempModelDir, JinjaFileWinsOverTokenizerConfig) {
  write("tokenizer_config.json", R"({"chat_template": "FROM CONFIG", "bos_token": null})");
  EXPECT_EQ(find_chat_template(dir_.string()).value_or("none"), "FROM CONFIG");
  write("chat_template.jinja", "FROM FILE");
  EXPECT_EQ(find_chat_template(dir_.string()).value_or("none"), "FROM FILE");
  EXPECT_EQ(find_special_token_texts(dir_.string()).bos, "");
}

TEST_F(TempModelDir, ChatTemplateJson) {
  write("chat_template.json", R"({"chat_template": "FROM JSON"})");
  EXPECT_EQ(find_chat_template(dir_.string()).value_or("none"), "FROM JSON");
}

TEST_F(TempModelDir, NoTemplate) {
  EXPECT_FALSE(find_chat_template(dir_.string()).has_value());
  const SpecialTokenTexts tokens = find_special_token_texts(dir_.string());
  EXPECT_EQ(tokens.bos, "");
  EXPECT_EQ(tokens.eos, "");
}

TEST_F(TempModelDir, MalformedConfigIsAnError) {
  write("tokenizer_config.json", "{not json");
  EXPECT_THROW(find_chat_template(dir_.string()), std::runtime_error);
}

}  // namespace
}  // namespace rbees::chat
