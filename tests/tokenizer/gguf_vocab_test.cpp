// GGUF-embedded vocabularies of models that also come as tokenizer.json: both paths must agree with
// the Hugging Face reference ids.

#include "test_paths.hpp"
#include "tokenizer/tokenizer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace rbees::tokenizer {
namespace {

using nlohmann::json;

json reference_cases(const std::string& name) {
  std::ifstream f(test::refs_path());
  for (const auto& set : json::parse(f)) {
    if (set.at("tokenizer") == name) return set.at("cases");
  }
  return json::array();
}

TEST(GgufVocab, DefaultModelGgufMatchesReferenceIds) {
  if (!std::filesystem::exists(test::refs_path())) GTEST_SKIP() << "../shared/tokenizers is absent";
  const auto path = std::filesystem::path(RBEES_SOURCE_DIR) / "tests/data/wp-llama-5m-f16.gguf";
  const Tokenizer tok = Tokenizer::load(path.string());
  EXPECT_EQ(tok.kind(), "gguf-bpe");
  EXPECT_EQ(tok.vocab_size(), 4096u);
  EXPECT_TRUE(tok.is_end_of_generation(1));
  EXPECT_TRUE(tok.is_end_of_generation(4));
  EXPECT_EQ(tok.bos_id(), std::optional<int32_t>(0));
  EXPECT_EQ(tok.bos_token(), "<|begin_of_text|>");
  const json cases = reference_cases("wp-llama-5m");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    EXPECT_EQ(tok.encode(text, true), c.at("ids").get<std::vector<int32_t>>()) << json(text).dump();
    EXPECT_EQ(tok.encode(text, false), c.at("ids_no_special").get<std::vector<int32_t>>()) << json(text).dump();
    EXPECT_EQ(tok.decode(c.at("ids_no_special").get<std::vector<int32_t>>()), c.at("decoded").get<std::string>());
  }
}

TEST(GgufVocab, LlamaTwoSentencePieceGgufMatchesReferenceIds) {
  const auto path = test::shared_dir() / "models/llama-2-tiny-random.gguf";
  if (!std::filesystem::exists(path) || !std::filesystem::exists(test::refs_path())) {
    GTEST_SKIP() << "../shared/models/llama-2-tiny-random.gguf or the references are absent";
  }
  const Tokenizer tok = Tokenizer::load(path.string());
  EXPECT_EQ(tok.kind(), "gguf-spm");
  EXPECT_EQ(tok.vocab_size(), 32000u);
  EXPECT_TRUE(tok.add_bos());
  EXPECT_TRUE(tok.is_end_of_generation(2));
  const json cases = reference_cases("llama2-spm");
  ASSERT_FALSE(cases.empty());
  int compared = 0;
  for (const auto& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    // llama.cpp always prepends the SentencePiece space; Hugging Face's Metaspace does not when the
    // text already starts with one. The GGUF path follows llama.cpp (its own vectors check that), so
    // those inputs differ by design.
    if (text.starts_with(" ")) continue;
    ++compared;
    EXPECT_EQ(tok.encode(text, true), c.at("ids").get<std::vector<int32_t>>()) << json(text).dump();
    EXPECT_EQ(tok.decode(c.at("ids_no_special").get<std::vector<int32_t>>()), c.at("decoded").get<std::string>())
        << json(text).dump();
  }
  EXPECT_GT(compared, 50);
}

}  // namespace
}  // namespace rbees::tokenizer
