// Random input never breaks the encoder; byte-level vocabularies round-trip any valid UTF-8 text.

#include "test_paths.hpp"
#include "tokenizer/streaming_detokenizer.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/utf8.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace rbees::tokenizer {
namespace {

std::string random_bytes(std::mt19937& rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(len(rng), '\0');
  for (auto& c : s) c = static_cast<char>(byte(rng));
  return s;
}

// Random valid UTF-8 from a mix of ASCII, whitespace, Latin, CJK, emoji and special-token fragments.
std::string random_text(std::mt19937& rng, size_t max_chars) {
  static const std::vector<uint32_t> pool = {'a',     'Z',     ' ',    ' ',   '\n',   '\t',   '\r',   '.',
                                             '\'',    '0',     '7',    '<',   '|',    '>',    0xE9,   0xFC,
                                             0x3B1,   0x416,   0x5D0,  0x627, 0x4E2D, 0x6587, 0x3042, 0xAC00,
                                             0x1F600, 0x1F44D, 0x2581, 0xA0,  0x2003, 0x200B, 0xFEFF, 0x10FFFF};
  static const std::vector<std::string> fragments = {"<|eot_id|>", "<|begin_of_text|>", "<s>", "</s>", " the", "'s"};
  std::uniform_int_distribution<size_t> len(0, max_chars);
  std::uniform_int_distribution<size_t> pick(0, pool.size() + fragments.size() - 1);
  std::string s;
  for (size_t i = 0, n = len(rng); i < n; ++i) {
    size_t k = pick(rng);
    if (k < pool.size()) {
      utf8::append_codepoint(s, pool[k]);
    } else {
      s += fragments[k - pool.size()];
    }
  }
  return s;
}

std::vector<std::filesystem::path> tokenizer_paths() {
  std::vector<std::filesystem::path> paths = {test::default_model_dir() / "tokenizer.json"};
  const auto spm = test::shared_dir() / "tokenizers/llama2-spm-tokenizer/tokenizer.json";
  if (std::filesystem::exists(spm)) paths.push_back(spm);
  const auto gguf = std::filesystem::path(RBEES_LLAMA_CPP_DIR) / "models/ggml-vocab-llama-spm.gguf";
  if (std::filesystem::exists(gguf)) paths.push_back(gguf);
  return paths;
}

TEST(Robustness, RandomBytesNeverBreakTheEncoder) {
  std::mt19937 rng(1234);
  for (const auto& path : tokenizer_paths()) {
    const Tokenizer tok = Tokenizer::load(path.string());
    for (int i = 0; i < 3000; ++i) {
      const std::string input = random_bytes(rng, 64);
      const auto ids = tok.encode(input, i % 2 == 0);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && static_cast<size_t>(id) < tok.vocab_size()) << path;
      const std::string text = tok.decode(ids);
      ASSERT_TRUE(utf8::is_valid(text)) << path;
      // Valid input comes back unchanged through the byte-level vocabulary; invalid bytes become U+FFFD.
      if (path.filename() == "tokenizer.json" && path.parent_path() == test::default_model_dir()) {
        EXPECT_EQ(tok.decode(tok.encode(input, false)), utf8::to_valid_lossy(input));
      }
    }
  }
}

TEST(Robustness, ByteLevelVocabularyRoundTripsValidText) {
  const Tokenizer tok = Tokenizer::load(test::default_model_dir().string());
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    const std::string text = random_text(rng, 40);
    ASSERT_TRUE(utf8::is_valid(text));
    const auto ids = tok.encode(text, false);
    ASSERT_EQ(tok.decode(ids), text);
    // The streaming decoder agrees and never emits a split character.
    StreamingDetokenizer stream(tok);
    std::string joined;
    for (int32_t id : ids) {
      std::string piece = stream.push(id);
      ASSERT_TRUE(utf8::is_valid(piece));
      joined += piece;
    }
    joined += stream.finish();
    ASSERT_EQ(joined, text);
  }
}

TEST(Robustness, StreamingHoldsBackSplitCharacters) {
  const Tokenizer tok = Tokenizer::load(test::default_model_dir().string());
  // "😀" is four bytes; the byte-level vocabulary of the default model has no token for it, so it
  // arrives as several tokens, and nothing may be emitted before the last one.
  const auto ids = tok.encode("\xF0\x9F\x98\x80", false);
  ASSERT_GT(ids.size(), 1u);
  StreamingDetokenizer stream(tok);
  for (size_t i = 0; i + 1 < ids.size(); ++i) EXPECT_EQ(stream.push(ids[i]), "");
  EXPECT_GT(stream.pending_bytes(), 0u);
  EXPECT_EQ(stream.push(ids.back()), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.finish(), "");
}

TEST(Robustness, UnfinishedCharacterBecomesReplacementOnFinish) {
  const Tokenizer tok = Tokenizer::load(test::default_model_dir().string());
  const auto ids = tok.encode("\xF0\x9F\x98\x80", false);
  StreamingDetokenizer stream(tok);
  EXPECT_EQ(stream.push(ids.front()), "");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD");
}

TEST(Robustness, SentencePieceLeadingSpaceComesOffOnlyOnce) {
  const auto path = test::shared_dir() / "tokenizers/llama2-spm-tokenizer/tokenizer.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "../shared/tokenizers is absent";
  const Tokenizer tok = Tokenizer::load(path.string());
  const auto ids = tok.encode("Hello world  again", false);
  StreamingDetokenizer stream(tok);
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(stream.push(id));
  EXPECT_EQ(pieces.front(), "Hello");
  EXPECT_EQ(pieces[1], " world");
  std::string joined;
  for (auto& p : pieces) joined += p;
  EXPECT_EQ(joined, "Hello world  again");
}

}  // namespace
}  // namespace rbees::tokenizer
