// Malformed or oversized tokenizer files are refused with std::runtime_error before they can write
// out of bounds or allocate without limit (regressions found by fuzz/tokenizer_json_fuzz).

#include "test_paths.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/vocab.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace rbees::tokenizer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

class TokenizerFileLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rbees-tok-limits-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A minimal byte-level BPE tokenizer.json; `edit` changes it before it is written.
  std::string write_tokenizer(const std::function<void(json&)>& edit) {
    json j = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}}},
              {"added_tokens", json::array()}};
    edit(j);
    auto path = (dir_ / "tokenizer.json").string();
    std::ofstream(path) << j.dump();
    return path;
  }

  // The message of the std::runtime_error that loading `path` throws ("" when it loads).
  static std::string load_error(const std::string& path) {
    try {
      Tokenizer::load(path);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(TokenizerFileLimitsTest, MinimalFileLoads) {
  auto tok = Tokenizer::load(write_tokenizer([](json&) {}));
  EXPECT_EQ(tok.vocab_size(), 3u);
  EXPECT_EQ(tok.encode("ab", false), std::vector<int32_t>{2});
}

TEST_F(TokenizerFileLimitsTest, NegativeVocabIdIsRefused) {
  auto path = write_tokenizer([](json& j) { j["model"]["vocab"]["b"] = -1; });
  EXPECT_THAT(load_error(path), HasSubstr("token id -1"));
}

TEST_F(TokenizerFileLimitsTest, VocabIdBeyondLimitIsRefused) {
  auto path = write_tokenizer([](json& j) { j["model"]["vocab"]["b"] = 2147483647; });
  EXPECT_THAT(load_error(path), HasSubstr("token id 2147483647"));
  path = write_tokenizer([](json& j) { j["model"]["vocab"]["b"] = static_cast<int64_t>(kMaxVocabSize); });
  EXPECT_THAT(load_error(path), HasSubstr("outside 0.." + std::to_string(kMaxVocabSize - 1)));
}

TEST_F(TokenizerFileLimitsTest, LastIdUnderLimitIsAccepted) {
  // The limit is on ids, not on the table; a sparse table just under it still loads.
  auto path = write_tokenizer([](json& j) {
    j["added_tokens"] = {{{"id", 100000}, {"content", "<x>"}, {"special", true}}};
  });
  EXPECT_EQ(Tokenizer::load(path).vocab_size(), 100001u);
}

TEST_F(TokenizerFileLimitsTest, AddedTokenIdOutsideLimitIsRefused) {
  auto path = write_tokenizer([](json& j) {
    j["added_tokens"] = {{{"id", -5}, {"content", "<x>"}, {"special", true}}};
  });
  EXPECT_THAT(load_error(path), HasSubstr("token id -5"));
}

TEST_F(TokenizerFileLimitsTest, WrongShapesAreRuntimeErrors) {
  EXPECT_THAT(load_error(write_tokenizer([](json& j) { j["model"] = "BPE"; })), HasSubstr("malformed"));
  EXPECT_THAT(load_error(write_tokenizer([](json& j) { j["added_tokens"] = {{{"id", 1}}}; })), HasSubstr("malformed"));
  EXPECT_THAT(load_error(write_tokenizer([](json& j) { j.erase("model"); })), HasSubstr("malformed"));
}

// A float id beyond int's range was converted with undefined behaviour (tokenizer_json_fuzz,
// crash-557cb652); strings and fractions are refused as well.
TEST_F(TokenizerFileLimitsTest, NonIntegerIdsAreRefused) {
  EXPECT_THAT(load_error(write_tokenizer([](json& j) { j["model"]["vocab"]["b"] = 2.22222e+116; })),
              HasSubstr("is not an integer"));
  EXPECT_THAT(load_error(write_tokenizer([](json& j) { j["model"]["vocab"]["b"] = 1.5; })),
              HasSubstr("is not an integer"));
  EXPECT_THAT(load_error(write_tokenizer([](json& j) { j["model"]["vocab"]["a"] = "zero"; })),
              HasSubstr("is not an integer"));
  EXPECT_THAT(load_error(write_tokenizer([](json& j) {
                j["added_tokens"] = {{{"id", 1e300}, {"content", "<x>"}}};
              })),
              HasSubstr("is not an integer"));
}

TEST_F(TokenizerFileLimitsTest, HugeUnsignedIdIsRefused) {
  auto path = write_tokenizer([](json& j) { j["model"]["vocab"]["b"] = uint64_t{18446744073709551615u}; });
  EXPECT_THAT(load_error(path), HasSubstr("outside 0.."));
}

TEST_F(TokenizerFileLimitsTest, OversizedFileIsRefusedBeforeReading) {
  auto path = dir_ / "tokenizer.json";
  { std::ofstream(path) << "{"; }
  fs::resize_file(path, kMaxTokenizerFileBytes + 1);  // sparse: no disk space used
  EXPECT_THAT(load_error(path.string()), HasSubstr("more than the limit"));
}

TEST_F(TokenizerFileLimitsTest, OversizedSiblingConfigIsRefused) {
  auto path = write_tokenizer([](json&) {});
  auto config = dir_ / "tokenizer_config.json";
  { std::ofstream(config) << "{"; }
  fs::resize_file(config, kMaxTokenizerFileBytes + 1);
  EXPECT_THAT(load_error(path), HasSubstr("tokenizer_config.json is"));
}

}  // namespace
}  // namespace rbees::tokenizer
