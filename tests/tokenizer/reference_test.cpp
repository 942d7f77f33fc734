// Encoding and decoding against the ids and text that Hugging Face tokenizers produced
// (../shared/tokenizers/tokenizer-refs.json).

#include "test_paths.hpp"
#include "tokenizer/streaming_detokenizer.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/utf8.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

namespace rbees::tokenizer {
namespace {

using nlohmann::json;

struct RefSet {
  std::string name;
  std::filesystem::path tokenizer_path;
  json cases;
};

std::vector<RefSet> load_refs() {
  std::ifstream f(test::refs_path());
  std::vector<RefSet> out;
  for (const auto& set : json::parse(f)) {
    out.push_back({set.at("tokenizer").get<std::string>(),
                   test::refs_path().parent_path() / set.at("path").get<std::string>(), set.at("cases")});
  }
  return out;
}

const Tokenizer& cached(const std::filesystem::path& path) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(path.string());
  if (it == cache.end()) it = cache.emplace(path.string(), Tokenizer::load(path.string())).first;
  return it->second;
}

class ReferenceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(test::refs_path())) {
      GTEST_SKIP() << "../shared/tokenizers/tokenizer-refs.json is absent (no ../shared beside the repository)";
    }
    for (auto& set : load_refs()) {
      if (set.name == GetParam()) refs_ = std::move(set);
    }
    ASSERT_FALSE(refs_.name.empty()) << "no reference set named " << GetParam();
    if (refs_.name == "wp-llama-5m") refs_.tokenizer_path = test::default_model_dir() / "tokenizer.json";
  }
  RefSet refs_;
};

TEST_P(ReferenceTest, EncodesWithAndWithoutSpecialTokens) {
  const Tokenizer& tok = cached(refs_.tokenizer_path);
  int failures = 0;
  for (const auto& c : refs_.cases) {
    const std::string text = c.at("text").get<std::string>();
    const auto with = tok.encode(text, true);
    const auto without = tok.encode(text, false);
    EXPECT_EQ(with, c.at("ids").get<std::vector<int32_t>>()) << "text: " << json(text).dump();
    EXPECT_EQ(without, c.at("ids_no_special").get<std::vector<int32_t>>()) << "text: " << json(text).dump();
    failures += (with != c.at("ids").get<std::vector<int32_t>>()) +
                (without != c.at("ids_no_special").get<std::vector<int32_t>>());
  }
  EXPECT_EQ(failures, 0) << "of " << refs_.cases.size() << " cases";
}

TEST_P(ReferenceTest, DecodesToReferenceText) {
  const Tokenizer& tok = cached(refs_.tokenizer_path);
  for (const auto& c : refs_.cases) {
    const auto ids = c.at("ids_no_special").get<std::vector<int32_t>>();
    EXPECT_EQ(tok.decode(ids), c.at("decoded").get<std::string>()) << "text: " << c.at("text").dump();
  }
}

TEST_P(ReferenceTest, StreamingPiecesConcatenateToFullDecode) {
  const Tokenizer& tok = cached(refs_.tokenizer_path);
  for (const auto& c : refs_.cases) {
    for (const char* field : {"ids", "ids_no_special"}) {
      const auto ids = c.at(field).get<std::vector<int32_t>>();
      for (bool skip : {false, true}) {
        StreamingDetokenizer stream(tok, skip);
        std::string joined;
        for (int32_t id : ids) {
          std::string piece = stream.push(id);
          EXPECT_TRUE(utf8::is_valid(piece)) << "invalid UTF-8 piece for " << c.at("text").dump();
          joined += piece;
        }
        const std::string tail = stream.finish();
        EXPECT_TRUE(utf8::is_valid(tail));
        joined += tail;
        EXPECT_EQ(joined, tok.decode(ids, skip)) << field << " of " << c.at("text").dump();
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Refs, ReferenceTest, ::testing::Values("llama2-spm", "wp-llama-5m"));

}  // namespace
}  // namespace rbees::tokenizer
