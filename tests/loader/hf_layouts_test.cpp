// Hugging Face layouts beyond the default model: sharded safetensors, and a Qwen2-style model with
// q/k/v biases and an untied output matrix, written here tensor by tensor.

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "loader/load.hpp"
#include "loader/test_paths.hpp"

namespace rbees::loader {
namespace {

using nlohmann::ordered_json;

struct RawTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;  // stored as F32
};

void write_safetensors(const std::filesystem::path& path, const std::vector<RawTensor>& tensors) {
  ordered_json header = ordered_json::object();
  std::vector<char> data;
  for (const auto& t : tensors) {
    const std::size_t begin = data.size();
    const auto* p = reinterpret_cast<const char*>(t.values.data());
    data.insert(data.end(), p, p + t.values.size() * sizeof(float));
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string h = header.dump();
  std::vector<char> out(8);
  uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  test::write_bytes(path, out);
}

// Values that differ per tensor and per element, so a mix-up shows.
RawTensor tensor(const std::string& name, std::vector<int64_t> shape, float seed) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  RawTensor t{name, std::move(shape), std::vector<float>(static_cast<std::size_t>(n))};
  for (int64_t i = 0; i < n; ++i) t.values[static_cast<std::size_t>(i)] = seed + 0.001f * static_cast<float>(i % 997);
  return t;
}

constexpr int kEmbd = 64, kHeads = 4, kKv = 2, kHd = 16, kFf = 96, kLayers = 2, kVocab = 128;

std::vector<RawTensor> qwen2_tensors(bool with_v_bias, bool with_lm_head) {
  std::vector<RawTensor> t;
  float seed = 1.0f;
  t.push_back(tensor("model.embed_tokens.weight", {kVocab, kEmbd}, seed++));
  t.push_back(tensor("model.norm.weight", {kEmbd}, seed++));
  if (with_lm_head) t.push_back(tensor("lm_head.weight", {kVocab, kEmbd}, seed++));
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t.push_back(tensor(p + "input_layernorm.weight", {kEmbd}, seed++));
    t.push_back(tensor(p + "self_attn.q_proj.weight", {kHeads * kHd, kEmbd}, seed++));
    t.push_back(tensor(p + "self_attn.q_proj.bias", {kHeads * kHd}, seed++));
    t.push_back(tensor(p + "self_attn.k_proj.weight", {kKv * kHd, kEmbd}, seed++));
    t.push_back(tensor(p + "self_attn.k_proj.bias", {kKv * kHd}, seed++));
    t.push_back(tensor(p + "self_attn.v_proj.weight", {kKv * kHd, kEmbd}, seed++));
    if (with_v_bias) t.push_back(tensor(p + "self_attn.v_proj.bias", {kKv * kHd}, seed++));
    t.push_back(tensor(p + "self_attn.o_proj.weight", {kEmbd, kHeads * kHd}, seed++));
    t.push_back(tensor(p + "post_attention_layernorm.weight", {kEmbd}, seed++));
    t.push_back(tensor(p + "mlp.gate_proj.weight", {kFf, kEmbd}, seed++));
    t.push_back(tensor(p + "mlp.up_proj.weight", {kFf, kEmbd}, seed++));
    t.push_back(tensor(p + "mlp.down_proj.weight", {kEmbd, kFf}, seed++));
    t.push_back(tensor(p + "self_attn.rotary_emb.inv_freq", {kHd / 2}, seed++));  // old checkpoints carry it
  }
  return t;
}

void write_qwen2_config(const std::filesystem::path& dir) {
  ordered_json c = {{"architectures", {"Qwen2ForCausalLM"}},
                    {"hidden_size", kEmbd},
                    {"intermediate_size", kFf},
                    {"num_attention_heads", kHeads},
                    {"num_key_value_heads", kKv},
                    {"num_hidden_layers", kLayers},
                    {"vocab_size", kVocab},
                    {"max_position_embeddings", 512},
                    {"rms_norm_eps", 1e-6},
                    {"rope_theta", 1000000.0},
                    {"tie_word_embeddings", false},
                    {"use_sliding_window", false},
                    {"sliding_window", 4096},
                    {"torch_dtype", "float32"},
                    {"bos_token_id", 100},
                    {"eos_token_id", 101}};
  test::write_text(dir / "config.json", c.dump());
}

std::string load_error(const std::filesystem::path& dir) {
  try {
    load_model_source(dir.string());
  } catch (const LoadError& e) {
    return e.what();
  }
  ADD_FAILURE() << "load succeeded";
  return "";
}

TEST(HfLayouts, Qwen2WithBiasesAndUntiedOutput) {
  test::TempDir dir;
  write_qwen2_config(dir.path());
  const auto raw = qwen2_tensors(true, true);
  write_safetensors(dir.path() / "model.safetensors", raw);
  ModelSource src = load_model_source(dir.path().string());
  EXPECT_EQ(src.config.architecture, "qwen2");
  EXPECT_TRUE(src.config.attention_bias);
  EXPECT_FALSE(src.config.attention_out_bias);
  EXPECT_FALSE(src.config.tie_word_embeddings);
  EXPECT_FALSE(src.qk_interleaved);
  EXPECT_EQ(src.config.source_dtype, "f32");
  EXPECT_EQ(src.config.head_dim, kHd);
  EXPECT_EQ(src.tensors.size(), 3u + 12u * kLayers);  // inv_freq is not used
  const TensorView* kb = src.find("blk.1.attn_k.bias");
  ASSERT_NE(kb, nullptr);
  EXPECT_EQ(kb->n_dims, 1);
  EXPECT_EQ(kb->ne[0], kKv * kHd);
  const TensorView* out = src.find("output.weight");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->ne[0], kEmbd);
  EXPECT_EQ(out->ne[1], kVocab);
  // Data in place: every mapped view holds exactly the values written under its HF name.
  for (const auto& r : raw) {
    for (const auto& [name, v] : src.tensors) {
      if (v.source_name != r.name) continue;
      ASSERT_EQ(v.nbytes, r.values.size() * sizeof(float)) << name;
      EXPECT_EQ(std::memcmp(v.data, r.values.data(), v.nbytes), 0) << name;
    }
  }
}

TEST(HfLayouts, MissingBiasAndMissingLmHeadAreNamed) {
  test::TempDir dir;
  write_qwen2_config(dir.path());
  write_safetensors(dir.path() / "model.safetensors", qwen2_tensors(false, true));
  std::string err = load_error(dir.path());
  EXPECT_NE(err.find("blk.0.attn_v.bias"), std::string::npos) << err;
  EXPECT_NE(err.find("model.safetensors"), std::string::npos) << err;
  write_safetensors(dir.path() / "model.safetensors", qwen2_tensors(true, false));
  err = load_error(dir.path());
  EXPECT_NE(err.find("output.weight"), std::string::npos) << err;
}

TEST(HfLayouts, ShardedCheckpointMatchesTheSingleFile) {
  test::TempDir dir;
  for (const char* f : {"config.json", "generation_config.json"})
    std::filesystem::copy_file(test::default_model_dir() / f, dir.path() / f);
  // Split the default model's tensors over two shards, as transformers' save_pretrained would.
  auto bytes = test::read_bytes(test::default_model_dir() / "model.safetensors");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  auto header = ordered_json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(header_len));
  const char* data = bytes.data() + 8 + header_len;
  ordered_json shard_header[2] = {ordered_json::object(), ordered_json::object()};
  std::vector<char> shard_data[2];
  ordered_json weight_map = ordered_json::object();
  int i = 0;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    const int s = (i++ % 2);
    const uint64_t b = info["data_offsets"][0], e = info["data_offsets"][1];
    const std::size_t begin = shard_data[s].size();
    shard_data[s].insert(shard_data[s].end(), data + b, data + e);
    shard_header[s][name] = {
        {"dtype", info["dtype"]}, {"shape", info["shape"]}, {"data_offsets", {begin, shard_data[s].size()}}};
    weight_map[name] = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
  }
  for (int s = 0; s < 2; ++s) {
    std::string h = shard_header[s].dump();
    std::vector<char> out(8);
    uint64_t n = h.size();
    std::memcpy(out.data(), &n, 8);
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), shard_data[s].begin(), shard_data[s].end());
    test::write_bytes(dir.path() / ("model-0000" + std::to_string(s + 1) + "-of-00002.safetensors"), out);
  }
  test::write_text(dir.path() / "model.safetensors.index.json",
                   ordered_json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump());

  ModelSource sharded = load_model_source(dir.path().string());
  ModelSource single = load_model_source(test::default_model_dir().string());
  EXPECT_EQ(sharded.mappings.size(), 2u);
  ASSERT_EQ(sharded.tensors.size(), single.tensors.size());
  for (const auto& [name, v] : single.tensors) {
    const TensorView* w = sharded.find(name);
    ASSERT_NE(w, nullptr) << name;
    EXPECT_EQ(w->type, v.type);
    ASSERT_EQ(w->nbytes, v.nbytes);
    EXPECT_EQ(std::memcmp(w->data, v.data, v.nbytes), 0) << name;
  }
  // A shard that the index names but that is not there.
  std::filesystem::remove(dir.path() / "model-00002-of-00002.safetensors");
  std::string err = load_error(dir.path());
  EXPECT_NE(err.find("model-00002-of-00002.safetensors"), std::string::npos) << err;
}

}  // namespace
}  // namespace rbees::loader
