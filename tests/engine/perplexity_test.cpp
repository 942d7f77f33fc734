// Our perplexity against llama-perplexity's (tests/data/perplexity/, see its README) on the embedded
// model's GGUFs over War and Peace at a 1024-token context. The model was trained on 256-token
// windows; at 1024 its perplexity is in the millions and moves with every logit, so agreement within
// 0.1% says the forward pass matches llama.cpp's at every position up to 1023 (llama.cpp's own F16
// and Q8_0 figures are 0.74% apart). The references come from llama.cpp's CPU build, so these run on
// the CPU whatever RBEES_TEST_DEVICE says.
#include "engine/perplexity.hpp"

#include <ggml-cpu.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/llama_perplexity_output.hpp"
#include "engine/model_runtime.hpp"

namespace rbees::engine {
namespace {

using rbees::testing::llama_perplexity_reference;
using rbees::testing::relative_difference;

const std::string kText = std::string(RBEES_SHARED_DIR) + "/data/war-and-peace.txt";
constexpr double kTolerance = 1e-3;  // relative

std::string gguf(const std::string& name) {
  return std::string(RBEES_SOURCE_DIR) + "/tests/data/" + name;
}

std::unique_ptr<ModelRuntime> load(const std::string& file, bool flash_attention) {
  RuntimeOptions o;
  o.model_path = gguf(file);
  o.device = "cpu";
  o.threads = 1;  // the test machine's cores are shared
  o.flash_attention = flash_attention;
  return ModelRuntime::load(o);
}

class PerplexityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    f16_ = load("wp-llama-5m-f16.gguf", true).release();
    if (std::filesystem::exists(kText)) {
      std::ifstream in(kText, std::ios::binary);
      const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      // Both GGUFs carry the same vocabulary (converted from one model): one tokenization serves both.
      tokens_ = new std::vector<int32_t>(perplexity_tokens(*f16_, text));
    }
  }
  static void TearDownTestSuite() {
    delete f16_;
    delete tokens_;
    f16_ = nullptr;
    tokens_ = nullptr;
  }
  void SetUp() override {
    if (tokens_ == nullptr) GTEST_SKIP() << "../shared/data/war-and-peace.txt is absent";
  }

  // Scores the first `chunks` windows and compares every running estimate with llama-perplexity's
  // (and, over all 8 windows, the final estimate and its uncertainty).
  static void expect_agreement(ModelRuntime& rt, const std::string& reference, int chunks, int n_batch = 2048) {
    const auto ref = llama_perplexity_reference(reference);
    ASSERT_GE(ref.running.size(), static_cast<size_t>(chunks));
    PerplexityOptions o;
    o.n_ctx = 1024;
    o.n_chunks = chunks;
    o.n_batch = n_batch;
    const PerplexityResult r = perplexity(rt, *tokens_, o);
    ASSERT_EQ(r.n_chunks, chunks);
    EXPECT_EQ(r.n_scored, static_cast<int64_t>(chunks) * 511);
    for (int i = 0; i < chunks; ++i) {
      EXPECT_LT(relative_difference(r.running[i], ref.running[i]), kTolerance)
          << reference << " window " << i + 1 << ": ours " << r.running[i] << ", llama.cpp " << ref.running[i];
    }
    if (static_cast<size_t>(chunks) == ref.running.size()) {
      EXPECT_LT(relative_difference(r.ppl, ref.ppl), kTolerance) << "ours " << r.ppl << ", llama.cpp " << ref.ppl;
      EXPECT_LT(relative_difference(r.ppl_error, ref.error), kTolerance)
          << "ours " << r.ppl_error << ", llama.cpp " << ref.error;
    }
  }

  static ModelRuntime* f16_;
  static std::vector<int32_t>* tokens_;
};
ModelRuntime* PerplexityTest::f16_ = nullptr;
std::vector<int32_t>* PerplexityTest::tokens_ = nullptr;

TEST_F(PerplexityTest, F16MatchesLlamaCppOverEightWindows) {
  expect_agreement(*f16_, "wp-llama-5m-f16.c1024.fa-on.txt", 8);
}

TEST_F(PerplexityTest, Q8MatchesLlamaCppOverEightWindows) {
  auto rt = load("wp-llama-5m-q8_0.gguf", true);
  expect_agreement(*rt, "wp-llama-5m-q8_0.c1024.fa-on.txt", 8);
}

// The masked-softmax attention path, against llama.cpp's -fa off.
// Its F16 products of keys and values round as llama.cpp's only through the same llamafile kernels:
// with ggml's own kernels (-DRBEES_LLAMAFILE=OFF) the Q8_0 figure moves by 0.7%.
class PerplexityWithoutFlashTest : public PerplexityTest {
 protected:
  void SetUp() override {
    PerplexityTest::SetUp();
    if (!IsSkipped() && ggml_cpu_has_llamafile() == 0) {
      GTEST_SKIP() << "built without llamafile's kernels, which llama.cpp's reference build uses";
    }
  }
};

TEST_F(PerplexityWithoutFlashTest, F16MatchesLlamaCpp) {
  auto rt = load("wp-llama-5m-f16.gguf", false);
  expect_agreement(*rt, "wp-llama-5m-f16.c1024.fa-off.txt", 8);
}

TEST_F(PerplexityWithoutFlashTest, Q8MatchesLlamaCpp) {
  auto rt = load("wp-llama-5m-q8_0.gguf", false);
  expect_agreement(*rt, "wp-llama-5m-q8_0.c1024.fa-off.txt", 8);
}

// A window longer than the batch is evaluated in several passes (300 + 300 + 300 + 124 tokens, the
// first two scoring nothing), each continuing in the cache the last one filled.
TEST_F(PerplexityTest, WindowInSeveralBatchesMatchesLlamaCpp) {
  expect_agreement(*f16_, "wp-llama-5m-f16.c1024.fa-on.txt", 1, 300);
}

TEST(PerplexityInput, RefusesWhatCannotBeScored) {
  auto rt = load("wp-llama-5m-f16.gguf", true);
  const std::vector<int32_t> tokens(1000, 65);
  PerplexityOptions o;
  o.n_ctx = 512;
  EXPECT_THROW(perplexity(*rt, std::vector<int32_t>(1023, 65), o), std::invalid_argument);  // under 2 windows
  o.n_ctx = 2048;                                                                           // past the model's 1024
  EXPECT_THROW(perplexity(*rt, std::vector<int32_t>(4096, 65), o), std::invalid_argument);
  o.n_ctx = 1;
  EXPECT_THROW(perplexity(*rt, tokens, o), std::invalid_argument);
  o.n_ctx = 256;
  o.n_batch = 0;
  EXPECT_THROW(perplexity(*rt, tokens, o), std::invalid_argument);
  o.n_batch = 256;
  o.n_chunks = 0;
  EXPECT_THROW(perplexity(*rt, tokens, o), std::invalid_argument);
  o.n_chunks = 1;
  std::vector<int32_t> outside = tokens;
  outside[200] = 1 << 20;  // in the one window scored, beyond the 4096-token vocabulary
  EXPECT_THROW(perplexity(*rt, outside, o), std::invalid_argument);
  const PerplexityResult r = perplexity(*rt, tokens, o);  // a repeated token
  EXPECT_EQ(r.n_scored, 127);
  EXPECT_TRUE(std::isfinite(r.ppl));
  EXPECT_GE(r.ppl, 1.0);
}

// -log p of one row, worked by hand: logits (0, ln 3) give p = 1/4 and 3/4.
TEST(PerplexityInput, NegativeLogLikelihoodOfOneRow) {
  const float logits[2] = {0.0f, std::log(3.0f)};
  EXPECT_NEAR(negative_log_likelihood(logits, 2, 0), std::log(4.0), 1e-6);
  EXPECT_NEAR(negative_log_likelihood(logits, 2, 1), std::log(4.0 / 3.0), 1e-6);
}

}  // namespace
}  // namespace rbees::engine
