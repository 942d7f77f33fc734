#include "loader/hf_loader.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loader/load.hpp"
#include "loader/test_paths.hpp"

namespace rbees::loader {
namespace {

using test::default_model_dir;

nlohmann::json default_config() {
  std::ifstream in(default_model_dir() / "config.json");
  return nlohmann::json::parse(in);
}

TEST(HfLoader, DefaultModelHyperparametersMatchConfigJson) {
  const auto j = default_config();
  ModelSource src = load_model_source(default_model_dir().string());
  const ModelConfig& c = src.config;
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.n_layer, j["num_hidden_layers"].get<int>());
  EXPECT_EQ(c.n_layer, 6);
  EXPECT_EQ(c.n_embd, 256);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.n_ff, 704);
  EXPECT_EQ(c.n_vocab, 4096);
  EXPECT_EQ(c.n_ctx_train, j["max_position_embeddings"].get<int>());
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-5f);
  EXPECT_EQ(c.rope.scaling, RopeScaling::llama3);
  EXPECT_FLOAT_EQ(c.rope.theta, 500000.0f);
  EXPECT_FLOAT_EQ(c.rope.factor, 8.0f);
  EXPECT_FLOAT_EQ(c.rope.low_freq_factor, 1.0f);
  EXPECT_FLOAT_EQ(c.rope.high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope.original_context, 256);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.mlp_bias);
  ASSERT_TRUE(c.bos_token_id.has_value());
  EXPECT_EQ(*c.bos_token_id, 0);
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{1});
  EXPECT_EQ(c.source_dtype, "bf16");
  EXPECT_FALSE(src.qk_interleaved);
}

TEST(HfLoader, TensorsAreNamedTheGgufWayWithGgmlShapesAndPointIntoTheFile) {
  ModelSource src = load_model_source(default_model_dir().string());
  // 2 global + 9 per layer; tied, so no output.weight.
  EXPECT_EQ(src.tensors.size(), 2u + 9u * 6u);
  EXPECT_EQ(src.find("output.weight"), nullptr);
  const TensorView* q = src.find("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, GGML_TYPE_BF16);
  EXPECT_EQ(q->n_dims, 2);
  EXPECT_EQ(q->ne[0], 256);
  EXPECT_EQ(q->ne[1], 256);
  EXPECT_EQ(q->nbytes, 256u * 256u * 2u);
  EXPECT_EQ(q->source_name, "model.layers.0.self_attn.q_proj.weight");
  const TensorView* k = src.find("blk.5.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->ne[0], 256);
  EXPECT_EQ(k->ne[1], 128);
  const TensorView* down = src.find("blk.3.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->ne[0], 704);
  EXPECT_EQ(down->ne[1], 256);
  const TensorView* emb = src.find("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->ne[0], 256);
  EXPECT_EQ(emb->ne[1], 4096);
  const TensorView* norm = src.find("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->n_dims, 1);
  EXPECT_EQ(norm->ne[0], 256);

  // The view's bytes are the file's bytes: compare against the raw file at the header's offset.
  auto bytes = test::read_bytes(default_model_dir() / "model.safetensors");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  auto header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(header_len));
  auto off = header["model.layers.0.self_attn.q_proj.weight"]["data_offsets"];
  const char* expect = bytes.data() + 8 + header_len + off[0].get<uint64_t>();
  EXPECT_EQ(std::memcmp(q->data, expect, q->nbytes), 0);
}

TEST(HfLoader, NameMapping) {
  EXPECT_EQ(hf_to_gguf_name("model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(hf_to_gguf_name("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(hf_to_gguf_name("lm_head.weight"), "output.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.12.self_attn.o_proj.weight"), "blk.12.attn_output.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.3.self_attn.k_proj.bias"), "blk.3.attn_k.bias");
  EXPECT_EQ(hf_to_gguf_name("model.layers.0.post_attention_layernorm.weight"), "blk.0.ffn_norm.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.0.mlp.down_proj.weight"), "blk.0.ffn_down.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.0.self_attn.rotary_emb.inv_freq"), std::nullopt);
  EXPECT_EQ(hf_to_gguf_name("model.layers.x.mlp.down_proj.weight"), std::nullopt);
}

TEST(Load, MissingPathAndNonModelFileAreRejectedByName) {
  try {
    load_model_source("/nonexistent/model");
    FAIL() << "expected LoadError";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model"), std::string::npos);
  }
  const std::string cfg = (default_model_dir() / "config.json").string();
  try {
    load_model_source(cfg);
    FAIL() << "expected LoadError";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find(cfg), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rbees::loader
