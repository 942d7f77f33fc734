// GGUF files written here through ggml's own GGUF writer: every kind of ggml weight type (plain
// floats, legacy quants, K-quants, IQ types) loads and reads back, and metadata variants map to the
// config.

#include <gguf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "loader/load.hpp"
#include "loader/test_paths.hpp"

namespace rbees::loader {
namespace {

constexpr int kEmbd = 256, kHeads = 4, kKv = 2, kHd = 64, kFf = 256, kVocab = 64;

struct Spec {
  std::string name;
  ggml_type type;
  int64_t ne0, ne1;  // ne1 == 0: a vector
};

std::vector<Spec> mixed_specs(bool with_output) {
  std::vector<Spec> s = {
      {"token_embd.weight", GGML_TYPE_F16, kEmbd, kVocab},
      {"output_norm.weight", GGML_TYPE_F32, kEmbd, 0},
      {"blk.0.attn_norm.weight", GGML_TYPE_F32, kEmbd, 0},
      {"blk.0.attn_q.weight", GGML_TYPE_Q4_K, kEmbd, kHeads * kHd},
      {"blk.0.attn_k.weight", GGML_TYPE_Q6_K, kEmbd, kKv * kHd},
      {"blk.0.attn_v.weight", GGML_TYPE_IQ4_NL, kEmbd, kKv * kHd},
      {"blk.0.attn_output.weight", GGML_TYPE_Q5_1, kHeads * kHd, kEmbd},
      {"blk.0.ffn_norm.weight", GGML_TYPE_F32, kEmbd, 0},
      {"blk.0.ffn_gate.weight", GGML_TYPE_Q2_K, kEmbd, kFf},
      {"blk.0.ffn_up.weight", GGML_TYPE_IQ4_XS, kEmbd, kFf},
      {"blk.0.ffn_down.weight", GGML_TYPE_BF16, kFf, kEmbd},
  };
  if (with_output) s.push_back({"output.weight", GGML_TYPE_Q8_0, kEmbd, kVocab});
  return s;
}

using KeySetter = std::function<void(gguf_context*)>;

// Writes a one-layer model; returns each tensor's bytes as written.
std::map<std::string, std::vector<uint8_t>> write_gguf(const std::filesystem::path& path, const std::string& arch,
                                                       const std::vector<Spec>& specs, const KeySetter& extra = {}) {
  ggml_init_params ip{64 * 1024 * 1024, nullptr, false};
  ggml_context* ctx = ggml_init(ip);
  gguf_context* g = gguf_init_empty();
  gguf_set_val_str(g, "general.architecture", arch.c_str());
  auto key = [&](const char* k) { return arch + "." + k; };
  gguf_set_val_u32(g, key("context_length").c_str(), 128);
  gguf_set_val_u32(g, key("embedding_length").c_str(), kEmbd);
  gguf_set_val_u32(g, key("block_count").c_str(), 1);
  gguf_set_val_u32(g, key("feed_forward_length").c_str(), kFf);
  gguf_set_val_u32(g, key("attention.head_count").c_str(), kHeads);
  gguf_set_val_u32(g, key("attention.head_count_kv").c_str(), kKv);
  gguf_set_val_f32(g, key("attention.layer_norm_rms_epsilon").c_str(), 1e-6f);
  gguf_set_val_f32(g, key("rope.freq_base").c_str(), 10000.0f);
  gguf_set_val_u32(g, key("rope.dimension_count").c_str(), kHd);
  gguf_set_val_u32(g, "tokenizer.ggml.bos_token_id", 3);
  gguf_set_val_u32(g, "tokenizer.ggml.eos_token_id", 4);
  if (extra) extra(g);

  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::map<std::string, std::vector<uint8_t>> written;
  for (const auto& s : specs) {
    ggml_tensor* t =
        s.ne1 == 0 ? ggml_new_tensor_1d(ctx, s.type, s.ne0) : ggml_new_tensor_2d(ctx, s.type, s.ne0, s.ne1);
    ggml_set_name(t, s.name.c_str());
    const int64_t rows = s.ne1 == 0 ? 1 : s.ne1;
    std::vector<float> values(static_cast<std::size_t>(s.ne0 * rows));
    for (auto& v : values) v = dist(rng);
    if (s.type == GGML_TYPE_F32) {
      std::memcpy(t->data, values.data(), values.size() * sizeof(float));
    } else {
      ggml_quantize_chunk(s.type, values.data(), t->data, 0, rows, s.ne0, nullptr);
    }
    const auto* p = static_cast<const uint8_t*>(t->data);
    written[s.name].assign(p, p + ggml_nbytes(t));
    gguf_add_tensor(g, t);
  }
  EXPECT_TRUE(gguf_write_to_file(g, path.c_str(), false));
  gguf_free(g);
  ggml_free(ctx);
  return written;
}

TEST(GgufTypes, EveryKindOfWeightTypeLoadsInPlace) {
  test::TempDir dir;
  const auto path = dir.path() / "mixed.gguf";
  const auto specs = mixed_specs(true);
  const auto written = write_gguf(path, "llama", specs);
  ModelSource src = load_model_source(path.string());
  const ModelConfig& c = src.config;
  EXPECT_EQ(c.n_embd, kEmbd);
  EXPECT_EQ(c.n_head, kHeads);
  EXPECT_EQ(c.n_head_kv, kKv);
  EXPECT_EQ(c.head_dim, kHd);
  EXPECT_EQ(c.n_ff, kFf);
  EXPECT_EQ(c.n_layer, 1);
  EXPECT_EQ(c.n_vocab, kVocab);  // from the embedding rows: no vocab_size, no token list
  EXPECT_EQ(c.n_ctx_train, 128);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-6f);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, std::optional<int>(3));
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{4});
  EXPECT_EQ(c.source_dtype, "mixed");
  for (const auto& s : specs) {
    const TensorView* v = src.find(s.name);
    ASSERT_NE(v, nullptr) << s.name;
    EXPECT_EQ(v->type, s.type) << s.name;
    EXPECT_EQ(v->ne[0], s.ne0) << s.name;
    const auto& bytes = written.at(s.name);
    ASSERT_EQ(v->nbytes, bytes.size()) << s.name;
    EXPECT_EQ(std::memcmp(v->data, bytes.data(), bytes.size()), 0) << s.name;
  }
}

TEST(GgufTypes, Qwen2IsNotInterleavedAndLinearScalingIsRead) {
  test::TempDir dir;
  const auto path = dir.path() / "qwen.gguf";
  auto specs = mixed_specs(false);
  specs.push_back({"blk.0.attn_q.bias", GGML_TYPE_F32, kHeads * kHd, 0});
  specs.push_back({"blk.0.attn_k.bias", GGML_TYPE_F32, kKv * kHd, 0});
  specs.push_back({"blk.0.attn_v.bias", GGML_TYPE_F32, kKv * kHd, 0});
  write_gguf(path, "qwen2", specs, [](gguf_context* g) {
    gguf_set_val_str(g, "qwen2.rope.scaling.type", "linear");
    gguf_set_val_f32(g, "qwen2.rope.scaling.factor", 4.0f);
  });
  ModelSource src = load_model_source(path.string());
  EXPECT_EQ(src.config.architecture, "qwen2");
  EXPECT_FALSE(src.qk_interleaved);
  EXPECT_TRUE(src.config.attention_bias);
  EXPECT_TRUE(src.config.tie_word_embeddings);
  EXPECT_EQ(src.config.rope.scaling, RopeScaling::linear);
  EXPECT_FLOAT_EQ(src.config.rope.factor, 4.0f);
}

std::string load_error(const std::filesystem::path& path) {
  try {
    load_model_source(path.string());
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "load succeeded";
  return "";
}

TEST(GgufTypes, UnsupportedArchitectureMissingTensorAndWrongShapeAreNamed) {
  test::TempDir dir;
  const auto path = dir.path() / "m.gguf";
  write_gguf(path, "gpt2", mixed_specs(true));
  EXPECT_NE(load_error(path).find("'gpt2'"), std::string::npos);

  auto specs = mixed_specs(true);
  specs.erase(specs.begin() + 3);  // blk.0.attn_q.weight
  write_gguf(path, "llama", specs);
  EXPECT_NE(load_error(path).find("blk.0.attn_q.weight"), std::string::npos);

  specs = mixed_specs(true);
  specs[4].ne1 = kHeads * kHd;  // attn_k as wide as attn_q
  write_gguf(path, "llama", specs);
  std::string err = load_error(path);
  EXPECT_NE(err.find("blk.0.attn_k.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("[256, 128]"), std::string::npos) << err;
}

}  // namespace
}  // namespace rbees::loader
