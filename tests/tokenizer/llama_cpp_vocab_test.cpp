// llama.cpp's vocabulary test vectors (models/ggml-vocab-*.gguf with .inp/.out): the GGUF-embedded
// tokenizers must give llama.cpp's ids (add_special=false, parse_special=false).

#include "tokenizer/tokenizer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

namespace rbees::tokenizer {
namespace {

namespace fs = std::filesystem;

// Vocabularies that must pass; the others are reported.
const std::set<std::string> kRequired = {"llama-spm", "llama-bpe", "qwen2", "gpt-2", "phi-3", "deepseek-llm"};

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Inputs are separated by "\n__ggml_vocab_test__\n"; the .out file has one line of ids per input.
std::vector<Case> read_cases(const fs::path& inp, const fs::path& out) {
  const std::string raw = read_file(inp);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inputs.push_back(raw.substr(pos));
      break;
    }
    inputs.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::ifstream f(out);
  std::vector<Case> cases;
  std::string line;
  for (size_t i = 0; i < inputs.size() && std::getline(f, line); ++i) {
    Case c{inputs[i], {}};
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  EXPECT_EQ(cases.size(), inputs.size()) << inp;
  return cases;
}

TEST(LlamaCppVocab, TestVectors) {
  const fs::path models = fs::path(RBEES_LLAMA_CPP_DIR) / "models";
  if (!fs::is_directory(models)) GTEST_SKIP() << "no llama.cpp models/ directory at " << models;
  std::vector<fs::path> vocabs;
  for (const auto& e : fs::directory_iterator(models)) {
    const auto name = e.path().filename().string();
    if (name.starts_with("ggml-vocab-") && name.ends_with(".gguf") && fs::exists(e.path().string() + ".inp")) {
      vocabs.push_back(e.path());
    }
  }
  std::sort(vocabs.begin(), vocabs.end());
  ASSERT_FALSE(vocabs.empty());

  std::set<std::string> seen;
  for (const auto& path : vocabs) {
    std::string name = path.stem().string().substr(std::string("ggml-vocab-").size());
    seen.insert(name);
    const bool required = kRequired.count(name) > 0;
    const auto cases = read_cases(path.string() + ".inp", path.string() + ".out");
    std::string status;
    try {
      const Tokenizer tok = Tokenizer::load(path.string());
      size_t passed = 0;
      for (const auto& c : cases) {
        const auto ids = tok.encode(c.text, false, false);
        if (ids == c.ids) {
          ++passed;
        } else if (required) {
          ADD_FAILURE() << name << ": input " << testing::PrintToString(c.text) << " gave "
                        << testing::PrintToString(ids) << ", llama.cpp " << testing::PrintToString(c.ids);
        }
      }
      status =
          std::to_string(passed) + "/" + std::to_string(cases.size()) + (passed == cases.size() ? " pass" : " FAIL");
    } catch (const std::exception& e) {
      status = std::string("not supported: ") + e.what();
      if (required) ADD_FAILURE() << name << ": " << e.what();
    }
    std::cout << "[ vocab    ] " << name << (required ? " (required)" : "") << ": " << status << "\n";
  }
  for (const auto& name : kRequired) EXPECT_TRUE(seen.count(name)) << "missing test vectors for " << name;
}

}  // namespace
}  // namespace rbees::tokenizer
