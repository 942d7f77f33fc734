// The embedded default model's tokenizer: special tokens, end-of-generation ids, config strings.

#include "test_paths.hpp"
#include "tokenizer/tokenizer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace rbees::tokenizer {
namespace {

const Tokenizer& default_tokenizer() {
  static const Tokenizer tok = Tokenizer::load(test::default_model_dir().string());
  return tok;
}

TEST(DefaultModelTokenizer, EndOfGenerationIncludesEosAndEndOfTurn) {
  const Tokenizer& tok = default_tokenizer();
  EXPECT_EQ(tok.kind(), "hf-json");
  EXPECT_EQ(tok.token_text(4), "<|eot_id|>");
  EXPECT_TRUE(tok.is_end_of_generation(1));
  EXPECT_TRUE(tok.is_end_of_generation(4));
  EXPECT_FALSE(tok.is_end_of_generation(0));
  EXPECT_FALSE(tok.is_end_of_generation(2));
  EXPECT_EQ(tok.eos_ids(), std::vector<int32_t>{1});
}

TEST(DefaultModelTokenizer, ConfigStringsAndBos) {
  const Tokenizer& tok = default_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 4096u);
  ASSERT_TRUE(tok.bos_id().has_value());
  EXPECT_EQ(*tok.bos_id(), 0);
  EXPECT_TRUE(tok.add_bos());
  EXPECT_EQ(tok.bos_token(), "<|begin_of_text|>");
  EXPECT_EQ(tok.eos_token(), "<|end_of_text|>");
  std::ifstream f(test::default_model_dir() / "chat_template.jinja", std::ios::binary);
  const std::string tmpl((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(tok.chat_template(), tmpl);
  EXPECT_TRUE(tok.is_special(4));
  EXPECT_FALSE(tok.is_special(100));
}

TEST(DefaultModelTokenizer, PromptsMatchTransformersInputIds) {
  // tests/data holds the prompts with the input ids transformers built (BOS included).
  std::ifstream f(std::filesystem::path(RBEES_SOURCE_DIR) / "tests/data/wp-llama-5m.ref-given.json");
  ASSERT_TRUE(f) << "tests/data/wp-llama-5m.ref-given.json is missing";
  const auto ref = nlohmann::json::parse(f);
  const Tokenizer& tok = default_tokenizer();
  int n = 0;
  for (const auto& c : ref.at("cases")) {
    EXPECT_EQ(tok.encode(c.at("prompt").get<std::string>(), true), c.at("input_ids").get<std::vector<int32_t>>());
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST(DefaultModelTokenizer, SkipSpecialDropsControlTokens) {
  const Tokenizer& tok = default_tokenizer();
  const auto ids = tok.encode("<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>", true);
  EXPECT_EQ(tok.decode(ids, false), "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>");
  EXPECT_EQ(tok.decode(ids, true), "user\n\nHello");
}

}  // namespace
}  // namespace rbees::tokenizer
