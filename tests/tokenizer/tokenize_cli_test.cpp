// `rbees-workerd tokenize` on the default model: the ids and text agree with the library.

#include "test_paths.hpp"
#include "tokenizer/tokenizer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace rbees::tokenizer {
namespace {

using nlohmann::json;

struct CliRun {
  int status;
  std::string out;
};

// Runs the binary with stdin from a file of its own: CTest runs these tests in parallel processes,
// so a shared file name would let one test read another's input.
CliRun run_binary(const std::string& args, const std::string& stdin_text) {
  std::string in_path = testing::TempDir() + "tokenize_cli_in_XXXXXX";
  const int fd = mkstemp(in_path.data());
  CliRun r{-1, {}};
  if (fd < 0) return r;
  close(fd);
  std::ofstream(in_path, std::ios::binary) << stdin_text;
  const std::string cmd = std::string(RBEES_BINARY) + " " + args + " < " + in_path + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (p != nullptr) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
    r.status = pclose(p);
  }
  std::remove(in_path.c_str());
  return r;
}

const std::vector<std::string> kTexts = {"Hello, world!", "", "<|begin_of_text|>Hi<|eot_id|>",
                                         "Pierre said: \"Natasha!\"\n\n  ½ ünïcode"};

TEST(TokenizeCli, EncodesWithAndWithoutSpecialTokens) {
  const std::string model = test::default_model_dir().string();
  const Tokenizer tok = Tokenizer::load(model);
  for (bool no_special : {false, true}) {
    const CliRun r =
        run_binary("tokenize --tokenizer " + model + (no_special ? " --no-special" : ""), json(kTexts).dump());
    ASSERT_EQ(r.status, 0);
    ASSERT_FALSE(r.out.empty());
    EXPECT_EQ(r.out.back(), '\n');
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "output must be one line";
    const json got = json::parse(r.out);
    ASSERT_EQ(got.size(), kTexts.size());
    for (size_t i = 0; i < kTexts.size(); ++i) {
      EXPECT_EQ(got[i].get<std::vector<int32_t>>(), tok.encode(kTexts[i], !no_special)) << kTexts[i];
    }
    // With the post-processor, BOS (id 0) comes first.
    EXPECT_EQ(got[0][0].get<int>() == 0, !no_special);
  }
}

TEST(TokenizeCli, DecodeKeepsSpecialTokens) {
  const std::string model = test::default_model_dir().string();
  const Tokenizer tok = Tokenizer::load(model);
  json ids = json::array();
  for (const auto& t : kTexts) ids.push_back(tok.encode(t, true));
  const CliRun r = run_binary("tokenize --decode --tokenizer " + model, ids.dump());
  ASSERT_EQ(r.status, 0);
  const json got = json::parse(r.out);
  ASSERT_EQ(got.size(), kTexts.size());
  for (size_t i = 0; i < kTexts.size(); ++i) EXPECT_EQ(got[i].get<std::string>(), "<|begin_of_text|>" + kTexts[i]);
}

TEST(TokenizeCli, RejectsInputThatIsNotAnArrayOfStrings) {
  const CliRun r = run_binary("tokenize --tokenizer " + test::default_model_dir().string(), "{\"text\": 1}");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace rbees::tokenizer
