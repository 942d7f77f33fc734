// A third-party GGUF (random weights, the real Llama 2 vocabulary) loads and runs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

TEST(TinyRandomLlama2, LoadsReportsHyperparametersAndRuns) {
  const std::string path = std::string(RBEES_SHARED_DIR) + "/models/llama-2-tiny-random.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "../shared/models/llama-2-tiny-random.gguf is absent";
  LoadedModel lm(path, ModelOptions{});
  LlamaModel& m = *lm.model;
  const auto& c = m.config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.n_vocab, 32000);  // the Llama 2 SentencePiece vocabulary
  EXPECT_GT(c.n_layer, 0);
  EXPECT_EQ(c.n_head % c.n_head_kv, 0);
  EXPECT_EQ(m.head_dim() * c.n_head, c.n_embd);
  EXPECT_TRUE(m.qk_interleaved());  // written by llama.cpp's converter
  RecordProperty("hparams", "n_embd=" + std::to_string(c.n_embd) + " n_layer=" + std::to_string(c.n_layer) +
                                " n_head=" + std::to_string(c.n_head) + " n_head_kv=" + std::to_string(c.n_head_kv) +
                                " n_ff=" + std::to_string(c.n_ff) + " n_ctx_train=" + std::to_string(c.n_ctx_train));

  // BOS "The quick brown" in Llama 2 ids; a full pass and a token-by-token pass agree.
  const std::vector<int32_t> ids = {1, 450, 4996, 17354};
  KvCache full_kv = m.create_kv_cache(32, GGML_TYPE_F32);
  const auto full = m.forward(prompt_batch(ids), full_kv);
  ASSERT_EQ(full.size(), ids.size() * c.n_vocab);
  for (float x : full) ASSERT_TRUE(std::isfinite(x));

  KvCache kv = m.create_kv_cache(32, GGML_TYPE_F32);
  std::vector<float> last;
  for (size_t i = 0; i < ids.size(); ++i) {
    Batch b;
    b.add(ids[i], static_cast<int32_t>(i), 0, true);
    last = m.forward(b, kv);
  }
  const std::vector<float> full_last(full.end() - c.n_vocab, full.end());
  EXPECT_LT(rel_l2(last, full_last), device_tolerance(1e-4));
}

}  // namespace
}  // namespace rbees::model::testing
