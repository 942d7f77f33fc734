#include "loader/hf_config.hpp"

#include <gtest/gtest.h>

#include "loader/load.hpp"
#include "loader/test_paths.hpp"

namespace rbees::loader {
namespace {

using nlohmann::json;

// A transformers v4-style Llama config (rope_theta + rope_scaling, torch_dtype).
json v4_llama() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "hidden_size": 512, "intermediate_size": 1376,
    "num_attention_heads": 8, "num_hidden_layers": 4, "vocab_size": 32000,
    "max_position_embeddings": 2048, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
    "rope_scaling": null, "torch_dtype": "float16", "bos_token_id": 1, "eos_token_id": 2,
    "tie_word_embeddings": false
  })");
}

ModelConfig read(const json& config, const json* generation = nullptr) {
  test::TempDir dir;
  test::write_text(dir.path() / "config.json", config.dump());
  if (generation != nullptr) test::write_text(dir.path() / "generation_config.json", generation->dump());
  return read_hf_config(dir.path());
}

std::string error_of(const json& config) {
  try {
    read(config);
  } catch (const LoadError& e) {
    return e.what();
  }
  return "";
}

TEST(HfConfig, V4LlamaDefaults) {
  ModelConfig c = read(v4_llama());
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.n_embd, 512);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 8);  // num_key_value_heads absent: same as heads
  EXPECT_EQ(c.head_dim, 64);  // head_dim absent: hidden / heads
  EXPECT_EQ(c.n_ff, 1376);
  EXPECT_EQ(c.n_layer, 4);
  EXPECT_EQ(c.n_vocab, 32000);
  EXPECT_EQ(c.n_ctx_train, 2048);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-6f);
  EXPECT_FLOAT_EQ(c.rope.theta, 10000.0f);
  EXPECT_EQ(c.rope.scaling, RopeScaling::none);
  EXPECT_EQ(c.source_dtype, "f16");
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.bos_token_id, std::optional<int>(1));
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{2});
}

TEST(HfConfig, V4LinearScalingByType) {
  json j = v4_llama();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
  ModelConfig c = read(j);
  EXPECT_EQ(c.rope.scaling, RopeScaling::linear);
  EXPECT_FLOAT_EQ(c.rope.factor, 4.0f);
}

TEST(HfConfig, V4Llama3ScalingByRopeType) {
  json j = v4_llama();
  j["rope_theta"] = 500000.0;
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 32.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  ModelConfig c = read(j);
  EXPECT_EQ(c.rope.scaling, RopeScaling::llama3);
  EXPECT_FLOAT_EQ(c.rope.theta, 500000.0f);
  EXPECT_FLOAT_EQ(c.rope.factor, 32.0f);
  EXPECT_FLOAT_EQ(c.rope.low_freq_factor, 1.0f);
  EXPECT_FLOAT_EQ(c.rope.high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope.original_context, 8192);
}

TEST(HfConfig, EosListMergedWithGenerationConfig) {
  json j = v4_llama();
  j["eos_token_id"] = {128001, 128008};
  json gen = {{"eos_token_id", {128001, 128009}}, {"bos_token_id", 128000}};
  ModelConfig c = read(j, &gen);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int>{128001, 128008, 128009}));
  EXPECT_EQ(c.bos_token_id, std::optional<int>(1));  // config.json's bos wins
  j.erase("bos_token_id");
  EXPECT_EQ(read(j, &gen).bos_token_id, std::optional<int>(128000));
}

TEST(HfConfig, ExplicitHeadDimKvHeadsAndTies) {
  json j = v4_llama();
  j["head_dim"] = 128;
  j["num_key_value_heads"] = 2;
  j["tie_word_embeddings"] = true;
  j["attention_bias"] = true;
  j["mlp_bias"] = true;
  ModelConfig c = read(j);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_head_kv, 2);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_TRUE(c.attention_out_bias);  // Llama's attention_bias covers o_proj
  EXPECT_TRUE(c.mlp_bias);
}

TEST(HfConfig, Qwen2HasQkvBiasButNoOutputBias) {
  json j = v4_llama();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["use_sliding_window"] = false;
  j["sliding_window"] = 32768;
  j["torch_dtype"] = "bfloat16";
  ModelConfig c = read(j);
  EXPECT_EQ(c.architecture, "qwen2");
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.attention_out_bias);
  EXPECT_EQ(c.source_dtype, "bf16");
}

TEST(HfConfig, MistralNullSlidingWindowIsIgnoredAndASmallOneRejected) {
  json j = v4_llama();
  j["architectures"] = {"MistralForCausalLM"};
  j["sliding_window"] = nullptr;
  EXPECT_EQ(read(j).architecture, "llama");
  j["sliding_window"] = 4096;  // covers the whole 2048 context: harmless
  EXPECT_EQ(read(j).architecture, "llama");
  j["sliding_window"] = 1024;
  std::string err = error_of(j);
  EXPECT_NE(err.find("config.json"), std::string::npos) << err;
  EXPECT_NE(err.find("sliding"), std::string::npos) << err;
}

TEST(HfConfig, UnknownArchitectureIsNamed) {
  json j = v4_llama();
  j["architectures"] = {"GPTNeoXForCausalLM"};
  std::string err = error_of(j);
  EXPECT_NE(err.find("config.json"), std::string::npos) << err;
  EXPECT_NE(err.find("GPTNeoXForCausalLM"), std::string::npos) << err;
  // load_model_source fails the same way, before looking for weights.
  test::TempDir dir;
  test::write_text(dir.path() / "config.json", j.dump());
  EXPECT_THROW(load_model_source(dir.path().string()), LoadError);
}

TEST(HfConfig, UnsupportedRopeTypeAndBadSizesAreRejected) {
  json j = v4_llama();
  j["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 2.0}};
  EXPECT_NE(error_of(j).find("longrope"), std::string::npos);
  j = v4_llama();
  j["num_key_value_heads"] = 3;
  EXPECT_NE(error_of(j).find("num_key_value_heads"), std::string::npos);
  j = v4_llama();
  j.erase("hidden_size");
  EXPECT_NE(error_of(j).find("hidden_size"), std::string::npos);
}

TEST(HfConfig, V5RopeParametersAndDtype) {
  ModelConfig c = read_hf_config(test::default_model_dir());
  EXPECT_EQ(c.rope.scaling, RopeScaling::llama3);
  EXPECT_FLOAT_EQ(c.rope.theta, 500000.0f);
  EXPECT_EQ(c.source_dtype, "bf16");
  json j = v4_llama();
  j.erase("rope_theta");
  j.erase("rope_scaling");
  j.erase("torch_dtype");
  j["dtype"] = "float32";
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  c = read(j);
  EXPECT_EQ(c.rope.scaling, RopeScaling::none);
  EXPECT_FLOAT_EQ(c.rope.theta, 1000000.0f);
  EXPECT_EQ(c.source_dtype, "f32");
}

}  // namespace
}  // namespace rbees::loader
