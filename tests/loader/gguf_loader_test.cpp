#include "loader/gguf_loader.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "loader/hf_config.hpp"
#include "loader/load.hpp"
#include "loader/rope_factors.hpp"
#include "loader/test_paths.hpp"

namespace rbees::loader {
namespace {

// The GGUFs were converted from the default model, so everything its config.json says must hold.
void expect_default_model_hparams(const ModelSource& src) {
  const ModelConfig hf = read_hf_config(test::default_model_dir());
  const ModelConfig& c = src.config;
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.n_layer, hf.n_layer);
  EXPECT_EQ(c.n_layer, 6);
  EXPECT_EQ(c.n_embd, 256);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.n_ff, 704);
  EXPECT_EQ(c.n_vocab, 4096);
  EXPECT_EQ(c.n_ctx_train, hf.n_ctx_train);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(c.rope.theta, 500000.0f);
  // Llama 3 scaling travels as the rope_freqs.weight tensor, not as scaling keys.
  EXPECT_EQ(c.rope.scaling, RopeScaling::none);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.mlp_bias);
  ASSERT_TRUE(c.bos_token_id.has_value());
  EXPECT_EQ(*c.bos_token_id, 0);
  ASSERT_FALSE(c.eos_token_ids.empty());
  EXPECT_EQ(c.eos_token_ids[0], 1);
  EXPECT_TRUE(src.qk_interleaved);
  EXPECT_EQ(src.find("output.weight"), nullptr);
  EXPECT_EQ(src.tensors.size(), 3u + 9u * 6u);  // rope_freqs, token_embd, output_norm + 9 per layer
}

std::vector<float> to_f32(const TensorView& v) {
  const int64_t n = v.ne[0] * v.ne[1] * v.ne[2] * v.ne[3];
  std::vector<float> out(static_cast<std::size_t>(n));
  if (v.type == GGML_TYPE_F32) {
    std::memcpy(out.data(), v.data, out.size() * sizeof(float));
  } else {
    ggml_get_type_traits(v.type)->to_float(v.data, out.data(), n);
  }
  return out;
}

void expect_types(const ModelSource& src, ggml_type matrices) {
  for (const auto& [name, v] : src.tensors) {
    const bool vector = v.n_dims == 1;
    EXPECT_EQ(v.type, vector ? GGML_TYPE_F32 : matrices) << name;
  }
}

TEST(GgufLoader, F16FileHasTheDefaultModelsHyperparametersAndF16Weights) {
  ModelSource src = load_model_source(test::f16_gguf().string());
  expect_default_model_hparams(src);
  expect_types(src, GGML_TYPE_F16);
  EXPECT_EQ(src.config.source_dtype, "f16");
  const TensorView* down = src.find("blk.2.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->ne[0], 704);
  EXPECT_EQ(down->ne[1], 256);
  EXPECT_EQ(down->nbytes, 704u * 256u * 2u);
}

TEST(GgufLoader, Q8FileHasQ8Weights) {
  ModelSource src = load_model_source(test::q8_gguf().string());
  expect_default_model_hparams(src);
  expect_types(src, GGML_TYPE_Q8_0);
  EXPECT_EQ(src.config.source_dtype, "q8_0");
  const TensorView* q = src.find("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->nbytes, ggml_row_size(GGML_TYPE_Q8_0, 256) * 256);
}

TEST(GgufLoader, RopeFreqsTensorMatchesTheLlama3ParametersOfTheConfig) {
  ModelSource gguf = load_model_source(test::f16_gguf().string());
  const ModelConfig hf = read_hf_config(test::default_model_dir());
  const TensorView* freqs = gguf.find("rope_freqs.weight");
  ASSERT_NE(freqs, nullptr);
  ASSERT_EQ(freqs->ne[0], hf.head_dim / 2);
  auto expected = llama3_rope_factors(hf.rope, hf.head_dim);
  auto got = to_f32(*freqs);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-5f * expected[i]) << i;
  EXPECT_FLOAT_EQ(expected.front(), 1.0f);  // the highest frequency is left alone
  EXPECT_FLOAT_EQ(expected.back(), 8.0f);   // the lowest is divided by the factor
}

// The f16 GGUF holds the bf16 weights of the HF directory: equal values, with Q/K rows permuted for
// the interleaved rotation (llama.cpp's converter: per head, row 2j+k <- row k*half+j).
TEST(GgufLoader, WeightsEqualTheHuggingFaceOnesWithQkRowsInterleaved) {
  ModelSource gguf = load_model_source(test::f16_gguf().string());
  ModelSource hf = load_model_source(test::default_model_dir().string());
  for (const char* name : {"blk.1.ffn_down.weight", "blk.4.attn_v.weight", "token_embd.weight"}) {
    auto a = to_f32(*gguf.find(name));
    auto b = to_f32(*hf.find(name));
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-3f * std::abs(b[i]) + 1e-7f) << name << i;
  }
  const int hd = 32, half = 16, in = 256;
  for (auto [name, heads] : {std::pair{"blk.0.attn_q.weight", 8}, std::pair{"blk.0.attn_k.weight", 4}}) {
    auto a = to_f32(*gguf.find(name));
    auto b = to_f32(*hf.find(name));
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < half; ++j)
        for (int k = 0; k < 2; ++k)
          for (int c = 0; c < in; c += 17) {
            float g = a[static_cast<std::size_t>((h * hd + 2 * j + k) * in + c)];
            float r = b[static_cast<std::size_t>((h * hd + k * half + j) * in + c)];
            ASSERT_NEAR(g, r, 1e-3f * std::abs(r) + 1e-7f) << name << " head " << h << " j " << j << " k " << k;
          }
  }
}

TEST(GgufLoader, ThirdPartyTinyLlama2) {
  auto p = std::filesystem::path(RBEES_SHARED_DIR) / "models" / "llama-2-tiny-random.gguf";
  if (!std::filesystem::exists(p)) GTEST_SKIP() << p << " is absent (../shared not checked out)";
  ModelSource src = load_model_source(p.string());
  const auto& c = src.config;
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.n_layer, 1);
  EXPECT_EQ(c.n_embd, 8);
  EXPECT_EQ(c.n_head, 2);
  EXPECT_EQ(c.n_head_kv, 2);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.n_ff, 32);
  EXPECT_EQ(c.n_vocab, 32000);
  EXPECT_EQ(c.n_ctx_train, 4096);
  EXPECT_FLOAT_EQ(c.rope.theta, 10000.0f);
  EXPECT_FALSE(c.tie_word_embeddings);
  ASSERT_NE(src.find("output.weight"), nullptr);
  EXPECT_EQ(src.find("output.weight")->ne[1], 32000);
  EXPECT_EQ(c.bos_token_id, std::optional<int>(1));
  ASSERT_FALSE(c.eos_token_ids.empty());
  EXPECT_EQ(c.eos_token_ids[0], 2);
  EXPECT_TRUE(src.qk_interleaved);
}

}  // namespace
}  // namespace rbees::loader
