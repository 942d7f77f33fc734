// Fused projections: Q, K and V stacked into one matrix per layer, gate and up into another. Which
// groups fuse, that each part holds its own file's values, and that a fused model computes what the
// separate products compute (bit for bit on the CPU, where each output is its row's dot product).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

std::vector<uint8_t> contents(const ggml_tensor* t) {
  std::vector<uint8_t> out(ggml_nbytes(t));
  ggml_backend_tensor_get(t, out.data(), 0, out.size());
  return out;
}

std::vector<uint8_t> file_bytes(const loader::ModelSource& src, const std::string& name) {
  const loader::TensorView* v = src.find(name);
  const auto* p = static_cast<const uint8_t*>(v->data);
  return {p, p + v->nbytes};
}

WeightOptions fused(bool on) {
  WeightOptions o;
  o.fuse_projections = on;
  return o;
}

TEST(FusedProjections, EachPartIsARowViewOfItsGroupHoldingItsOwnValues) {
  core::Device cpu(core::cpu_device(), 1);
  const loader::ModelSource src = loader::load_model_source(kF16Gguf);
  LlamaWeights w(src, cpu, fused(true));
  const auto& c = src.config;
  const int64_t hd = c.n_embd / c.n_head;
  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = w.layers[static_cast<size_t>(il)];
    const std::string b = "blk." + std::to_string(il) + ".";
    ASSERT_NE(L.wqkv, nullptr) << il;
    ASSERT_NE(L.ffn_gate_up, nullptr) << il;
    EXPECT_EQ(L.wqkv->ne[1], hd * (c.n_head + 2 * c.n_head_kv));
    EXPECT_EQ(L.ffn_gate_up->ne[1], 2 * c.n_ff);
    EXPECT_EQ(L.wq->view_src, L.wqkv);
    EXPECT_EQ(L.wv->view_src, L.wqkv);
    EXPECT_EQ(L.ffn_up->view_src, L.ffn_gate_up);
    EXPECT_EQ(L.wk->view_offs, static_cast<size_t>(hd * c.n_head) * L.wqkv->nb[1]);
    EXPECT_EQ(L.ffn_up->view_offs, static_cast<size_t>(c.n_ff) * L.ffn_gate_up->nb[1]);
    EXPECT_EQ(L.bqkv, nullptr);  // no biases in this model
    EXPECT_EQ(contents(L.wq), file_bytes(src, b + "attn_q.weight")) << il;
    EXPECT_EQ(contents(L.wk), file_bytes(src, b + "attn_k.weight")) << il;
    EXPECT_EQ(contents(L.wv), file_bytes(src, b + "attn_v.weight")) << il;
    EXPECT_EQ(contents(L.ffn_gate), file_bytes(src, b + "ffn_gate.weight")) << il;
    EXPECT_EQ(contents(L.ffn_up), file_bytes(src, b + "ffn_up.weight")) << il;
  }
  LlamaWeights off(src, cpu, fused(false));
  EXPECT_EQ(w.bytes(), off.bytes());
  EXPECT_EQ(off.layers[0].wqkv, nullptr);
  EXPECT_EQ(off.layers[0].ffn_gate_up, nullptr);
  EXPECT_EQ(off.layers[0].wq->view_src, nullptr);
}

// A model with one layer's V in another type than its Q and K (as quantization mixes often do).
struct MixedSource {
  loader::ModelSource src = loader::load_model_source(kF16Gguf);
  std::vector<float> v_f32;
  MixedSource() {
    loader::TensorView& v = src.tensors.at("blk.0.attn_v.weight");
    v_f32.resize(static_cast<size_t>(v.ne[0] * v.ne[1]));
    ggml_fp16_to_fp32_row(static_cast<const ggml_fp16_t*>(v.data), v_f32.data(), static_cast<int64_t>(v_f32.size()));
    v.type = GGML_TYPE_F32;
    v.data = v_f32.data();
    v.nbytes = v_f32.size() * sizeof(float);
  }
};

TEST(FusedProjections, AGroupOfMixedTypesStaysSeparate) {
  core::Device cpu(core::cpu_device(), 1);
  MixedSource mixed;
  LlamaWeights w(mixed.src, cpu, fused(true));
  EXPECT_EQ(w.layers[0].wqkv, nullptr);
  EXPECT_EQ(w.layers[0].wv->type, GGML_TYPE_F32);
  EXPECT_EQ(w.layers[0].wq->view_src, nullptr);
  EXPECT_NE(w.layers[0].ffn_gate_up, nullptr);  // gate and up still share a type
  EXPECT_NE(w.layers[1].wqkv, nullptr);
}

// Logits of a prompt and of a greedy continuation, the fused model against the separate one.
void expect_same_outputs(const loader::ModelSource& src, ModelOptions options) {
  SCOPED_TRACE(src.path);
  core::Device dev = test_device();
  options.fused_projections = true;
  LlamaModel fused_model(src, dev, options);
  options.fused_projections = false;
  LlamaModel separate(src, dev, options);
  const std::vector<int32_t> prompt = {1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366};
  KvCache kv_a = fused_model.create_kv_cache(64, GGML_TYPE_F32);
  KvCache kv_b = separate.create_kv_cache(64, GGML_TYPE_F32);
  Batch b;
  for (size_t i = 0; i < prompt.size(); ++i) b.add(prompt[i] % fused_model.n_vocab(), static_cast<int32_t>(i), 0, true);
  const std::vector<float> a = fused_model.forward(b, kv_a);
  const std::vector<float> e = separate.forward(b, kv_b);
  ASSERT_EQ(a.size(), e.size());
  if (testing_on_gpu()) {
    EXPECT_LT(rel_l2(a, e), device_tolerance(1e-5));
  } else {
    EXPECT_EQ(std::memcmp(a.data(), e.data(), a.size() * sizeof(float)), 0) << "rel_l2 " << rel_l2(a, e);
  }
  KvCache kv_c = fused_model.create_kv_cache(64, GGML_TYPE_F32);
  KvCache kv_d = separate.create_kv_cache(64, GGML_TYPE_F32);
  std::vector<int32_t> short_prompt(prompt.begin(), prompt.begin() + 4);
  for (auto& t : short_prompt) t %= fused_model.n_vocab();
  EXPECT_EQ(greedy(fused_model, kv_c, short_prompt, 12), greedy(separate, kv_d, short_prompt, 12));
}

TEST(FusedProjections, F16GgufComputesWhatSeparateProductsCompute) {
  expect_same_outputs(loader::load_model_source(kF16Gguf), ModelOptions{});
}

TEST(FusedProjections, Q8GgufComputesWhatSeparateProductsCompute) {
  expect_same_outputs(loader::load_model_source(kQ8Gguf), ModelOptions{});
}

TEST(FusedProjections, FlashAttentionOverF32WeightsComputesWhatSeparateProductsCompute) {
  expect_same_outputs(loader::load_model_source(kHfDir), exact_options(true));
}

TEST(FusedProjections, MixedTypesComputeAsBefore) {
  MixedSource mixed;
  expect_same_outputs(mixed.src, ModelOptions{});
}

// Q/K/V and gate/up biases (Qwen2 has the first, some Llama variants both), made up for the default
// model: they fuse with their matrices, and the fused model adds each to its own rows.
struct BiasedSource {
  loader::ModelSource src = loader::load_model_source(kF16Gguf);
  std::vector<std::vector<float>> values;
  BiasedSource() {
    const auto& c = src.config;
    const int64_t hd = c.n_embd / c.n_head;
    src.config.attention_bias = true;
    // Gate and up biases without a down bias: present though the config does not require them.
    values.reserve(5 * static_cast<size_t>(c.n_layer));
    for (int il = 0; il < c.n_layer; ++il) {
      const std::string b = "blk." + std::to_string(il) + ".";
      const std::pair<const char*, int64_t> biases[] = {{"attn_q.bias", hd * c.n_head},
                                                        {"attn_k.bias", hd * c.n_head_kv},
                                                        {"attn_v.bias", hd * c.n_head_kv},
                                                        {"ffn_gate.bias", c.n_ff},
                                                        {"ffn_up.bias", c.n_ff}};
      for (const auto& [name, n] : biases) {
        std::vector<float>& v = values.emplace_back(static_cast<size_t>(n));
        for (size_t i = 0; i < v.size(); ++i)
          v[i] = 0.05f * static_cast<float>((i * 7 + values.size() * 13) % 17) - 0.4f;
        loader::TensorView t;
        t.name = b + name;
        t.type = GGML_TYPE_F32;
        t.ne[0] = n;
        t.n_dims = 1;
        t.data = v.data();
        t.nbytes = v.size() * sizeof(float);
        t.file = "made-up biases";
        src.tensors[t.name] = t;
      }
    }
  }
};

TEST(FusedProjections, BiasesFuseWithTheirMatrices) {
  core::Device cpu(core::cpu_device(), 1);
  BiasedSource biased;
  LlamaWeights w(biased.src, cpu, fused(true));
  const LayerWeights& L = w.layers[1];
  ASSERT_NE(L.bqkv, nullptr);
  ASSERT_NE(L.ffn_gate_up_b, nullptr);
  EXPECT_EQ(L.bk->view_src, L.bqkv);
  EXPECT_EQ(L.ffn_up_b->view_src, L.ffn_gate_up_b);
  std::vector<float> k(static_cast<size_t>(L.bk->ne[0]));
  ggml_backend_tensor_get(L.bk, k.data(), 0, ggml_nbytes(L.bk));
  EXPECT_EQ(k, biased.values[5 + 1]);  // layer 1's second bias
}

TEST(FusedProjections, BiasedModelComputesWhatSeparateProductsCompute) {
  BiasedSource biased;
  expect_same_outputs(biased.src, ModelOptions{});
  // The biases count: without them the logits differ.
  core::Device dev = test_device();
  LlamaModel with(biased.src, dev, ModelOptions{});
  const loader::ModelSource plain = loader::load_model_source(kF16Gguf);
  LlamaModel without(plain, dev, ModelOptions{});
  KvCache kv_a = with.create_kv_cache(16, GGML_TYPE_F32);
  KvCache kv_b = without.create_kv_cache(16, GGML_TYPE_F32);
  Batch b;
  for (int32_t i = 0; i < 4; ++i) b.add(10 + i, i, 0, true);
  EXPECT_GT(rel_l2(with.forward(b, kv_a), without.forward(b, kv_b)), 1e-3);
}

}  // namespace
}  // namespace rbees::model::testing
