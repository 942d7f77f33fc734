#include "engine/generator.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/model_runtime.hpp"

namespace rbees::engine {
namespace {

const std::string kModelDir = std::string(RBEES_SOURCE_DIR) + "/models/wp-llama-5m";

nlohmann::json reference() {
  std::ifstream f(std::string(RBEES_SOURCE_DIR) + "/tests/data/wp-llama-5m.ref-given.json");
  return nlohmann::json::parse(f);
}

class GeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    RuntimeOptions o;
    o.model_path = kModelDir;
    o.device = "cpu";
    o.threads = 1;  // the test machine's cores are shared
    runtime_ = ModelRuntime::load(o).release();
  }
  static void TearDownTestSuite() {
    delete runtime_;
    runtime_ = nullptr;
  }
  static ModelRuntime* runtime_;
};
ModelRuntime* GeneratorTest::runtime_ = nullptr;

// Both ways of picking a greedy token: from the logits copied to the host, and by the graph's argmax
// (the GPU default).
TEST_F(GeneratorTest, GreedyMatchesTheReferenceContinuations) {
  const auto ref = reference();
  for (const bool on_device : {false, true}) {
    Generator gen(*runtime_, 0, GGML_TYPE_F16, on_device);
    for (const auto& c : ref["cases"]) {
      const auto prompt = runtime_->tokenizer().encode(c["prompt"].get<std::string>(), true);
      ASSERT_EQ(prompt, c["input_ids"].get<std::vector<int32_t>>());
      const auto want = c["greedy_ids"].get<std::vector<int32_t>>();
      GenerationRequest req;
      req.prompt = prompt;
      req.sampling.temperature = 0.0f;
      req.max_tokens = static_cast<int>(want.size());
      std::string text;
      auto res = gen.generate(req, [&](std::string_view s) { text += s; });
      EXPECT_EQ(res.tokens, want) << c["prompt"] << (on_device ? " (picked by the graph)" : "");
      EXPECT_EQ(text, c["greedy_text"].get<std::string>());
      EXPECT_EQ(res.finish, FinishReason::max_tokens);
      EXPECT_EQ(res.generated_tokens, static_cast<int>(want.size()));
    }
  }
}

TEST_F(GeneratorTest, StopStringEndsTheTextBeforeIt) {
  Generator gen(*runtime_);
  const auto c = reference()["cases"][1];
  const std::string full = c["greedy_text"].get<std::string>();
  const std::string stop = "drawing rooms";
  const size_t at = full.find(stop);
  ASSERT_NE(at, std::string::npos);
  GenerationRequest req;
  req.prompt = c["input_ids"].get<std::vector<int32_t>>();
  req.sampling.temperature = 0.0f;
  req.max_tokens = 48;
  req.stop = {"never appears", stop};
  std::string text;
  auto res = gen.generate(req, [&](std::string_view s) { text += s; });
  EXPECT_EQ(text, full.substr(0, at));
  EXPECT_EQ(res.finish, FinishReason::stop_sequence);
  EXPECT_EQ(res.stop_matched, stop);
}

TEST_F(GeneratorTest, ContextLimitEndsWithContextLength) {
  Generator gen(*runtime_, 40);
  GenerationRequest req;
  req.prompt = reference()["cases"][0]["input_ids"].get<std::vector<int32_t>>();  // 21 tokens
  req.sampling.temperature = 0.0f;
  req.ignore_eos = true;
  auto res = gen.generate(req, nullptr);
  EXPECT_EQ(res.finish, FinishReason::context_length);
  EXPECT_EQ(res.prompt_tokens + res.generated_tokens, 40);
  // The greedy tokens are the reference's first ones.
  const auto want = reference()["cases"][0]["greedy_ids"].get<std::vector<int32_t>>();
  EXPECT_TRUE(std::equal(res.tokens.begin(), res.tokens.end(), want.begin()));
}

TEST_F(GeneratorTest, SeededSamplingRepeats) {
  Generator gen(*runtime_);
  GenerationRequest req;
  req.prompt = reference()["cases"][2]["input_ids"].get<std::vector<int32_t>>();
  req.sampling.temperature = 0.9f;
  req.sampling.top_p = 0.95f;
  req.sampling.seed = 1234;
  req.max_tokens = 40;
  auto a = gen.generate(req, nullptr);
  auto b = gen.generate(req, nullptr);
  EXPECT_EQ(a.tokens, b.tokens);
  req.sampling.seed = 99;
  auto c = gen.generate(req, nullptr);
  EXPECT_NE(a.tokens, c.tokens);
}

}  // namespace
}  // namespace rbees::engine
