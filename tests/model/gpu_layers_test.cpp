// --gpu-layers: which layers go to the device (llama.cpp's -ngl arithmetic), the weights and KV
// cache of the layers left on the CPU in CPU buffers, and, on a GPU, a partly offloaded model that
// computes what the fully offloaded one does while reporting both devices.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

// --- Placement arithmetic (pure) ---

TEST(PlaceLayers, UnsetPutsEverythingOnTheDevice) {
  const LayerPlacement p = place_layers(22, std::nullopt);
  EXPECT_EQ(p.first_device_layer, 0);
  EXPECT_TRUE(p.input_on_device);
  EXPECT_TRUE(p.output_on_device);
  EXPECT_TRUE(p.everything_on_device());
}

TEST(PlaceLayers, ZeroKeepsEveryLayerOnTheCpu) {
  const LayerPlacement p = place_layers(22, 0);
  EXPECT_EQ(p.first_device_layer, 22);
  for (int il = 0; il < 22; ++il) EXPECT_FALSE(p.layer_on_device(il)) << il;
  EXPECT_FALSE(p.input_on_device);
  EXPECT_FALSE(p.output_on_device);
  EXPECT_FALSE(p.everything_on_device());
}

TEST(PlaceLayers, OneOffloadsTheLastRepeatingLayerOnly) {
  const LayerPlacement p = place_layers(22, 1);
  EXPECT_EQ(p.first_device_layer, 21);
  EXPECT_TRUE(p.layer_on_device(21));
  EXPECT_FALSE(p.layer_on_device(20));
  EXPECT_FALSE(p.input_on_device);
  EXPECT_FALSE(p.output_on_device);
}

TEST(PlaceLayers, NLayerOffloadsEveryRepeatingLayerButNotTheOutput) {
  const LayerPlacement p = place_layers(22, 22);
  EXPECT_EQ(p.first_device_layer, 0);
  for (int il = 0; il < 22; ++il) EXPECT_TRUE(p.layer_on_device(il)) << il;
  EXPECT_FALSE(p.output_on_device);  // the output layer is layer n_layer, the 23rd
  EXPECT_FALSE(p.input_on_device);
  EXPECT_FALSE(p.everything_on_device());
}

TEST(PlaceLayers, OneMoreThanNLayerOrMoreIsEverythingAsWithoutTheOption) {
  EXPECT_EQ(place_layers(22, 23), place_layers(22, std::nullopt));
  EXPECT_EQ(place_layers(22, 999), place_layers(22, std::nullopt));
  EXPECT_TRUE(place_layers(22, 999).everything_on_device());
}

TEST(PlaceLayers, NegativeIsRefused) {
  EXPECT_THROW(place_layers(22, -1), std::invalid_argument);
}

// --- Buffers on a CPU device (the split path runs, both sides being CPU memory) ---

std::vector<uint8_t> contents(const ggml_tensor* t) {
  std::vector<uint8_t> out(ggml_nbytes(t));
  ggml_backend_tensor_get(t, out.data(), 0, out.size());
  return out;
}

TEST(GpuLayersWeights, LayersLeftOnTheCpuGetTheirOwnBufferWithTheSameValues) {
  core::Device cpu(core::cpu_device(), 1);
  const loader::ModelSource source = loader::load_model_source(kHfDir);
  const int n_layer = source.config.n_layer;
  WeightOptions all{GGML_TYPE_F32, std::nullopt, {}};
  WeightOptions two{GGML_TYPE_F32, 2, {}};
  LlamaWeights everything(source, cpu, all);
  LlamaWeights split(source, cpu, two);

  EXPECT_EQ(everything.buffers().size(), 1u);
  EXPECT_EQ(split.placement().first_device_layer, n_layer - 2);
  ASSERT_EQ(split.buffers().size(), 2u);  // the device's, and the CPU's for the rest
  ggml_backend_buffer_t device_buffer = split.buffer();
  ASSERT_NE(device_buffer, nullptr);
  for (int il = 0; il < n_layer; ++il) {
    const bool on_device = il >= n_layer - 2;
    EXPECT_EQ(split.layers[il].wq->buffer == device_buffer, on_device) << "layer " << il;
    EXPECT_EQ(split.layers[il].ffn_norm->buffer == device_buffer, on_device) << "layer " << il;
    EXPECT_EQ(contents(split.layers[il].ffn_down), contents(everything.layers[il].ffn_down)) << "layer " << il;
  }
  // The embeddings (tied: also the output matrix) and output norm stay on the CPU.
  EXPECT_NE(split.tok_embd->buffer, device_buffer);
  EXPECT_EQ(split.output, split.tok_embd);
  EXPECT_NE(split.output_norm->buffer, device_buffer);
  EXPECT_EQ(contents(split.tok_embd), contents(everything.tok_embd));
  ASSERT_NE(split.rope_freqs, nullptr);  // computed (llama3 scaling)
  EXPECT_EQ(contents(split.rope_freqs), contents(everything.rope_freqs));
  // CPU memory is CPU memory: resident either way on a CPU device.
  EXPECT_TRUE(core::residency(split.buffers(), cpu.info().dev).resident());
}

TEST(GpuLayersWeights, ZeroLayersLeavesTheDeviceBufferEmpty) {
  core::Device cpu(core::cpu_device(), 1);
  const loader::ModelSource source = loader::load_model_source(kHfDir);
  LlamaWeights none(source, cpu, WeightOptions{std::nullopt, 0, {}});
  EXPECT_EQ(none.buffer(), nullptr);
  ASSERT_EQ(none.buffers().size(), 1u);
  EXPECT_EQ(none.layers.back().wq->buffer, none.buffers().front());
  EXPECT_GT(none.bytes(), 0u);
}

TEST(GpuLayersKvCache, LayersBelowTheFirstDeviceLayerAreInTheirOwnBuffer) {
  core::Device cpu(core::cpu_device(), 1);
  KvCache kv(cpu, 4, 8, 8, 16, GGML_TYPE_F32, 1);
  const auto buffers = kv.buffers();
  ASSERT_EQ(buffers.size(), 2u);
  ASSERT_NE(buffers[0], nullptr);
  ASSERT_NE(buffers[1], nullptr);
  EXPECT_EQ(kv.k(0)->buffer, buffers[1]);
  EXPECT_EQ(kv.v(0)->buffer, buffers[1]);
  for (int il = 1; il < 4; ++il) {
    EXPECT_EQ(kv.k(il)->buffer, buffers[0]) << il;
    EXPECT_EQ(kv.v(il)->buffer, buffers[0]) << il;
  }
  const auto r = kv.residency();
  EXPECT_TRUE(r.resident());
  // Each layer stores its cells plus the spare rows past them.
  EXPECT_EQ(r.bytes_on_requested, 2 * 4 * 8 * static_cast<size_t>(kv.k(0)->ne[1]) * sizeof(float));

  KvCache all_cpu(cpu, 4, 8, 8, 16, GGML_TYPE_F32, 4);
  EXPECT_EQ(all_cpu.buffers()[0], nullptr);
  EXPECT_NE(all_cpu.buffers()[1], nullptr);
  KvCache moved = std::move(all_cpu);
  EXPECT_EQ(moved.k(3)->buffer, moved.buffers()[1]);
}

TEST(GpuLayersModel, IgnoredOnACpuDevice) {
  core::Device cpu(core::cpu_device(), 1);
  const auto& ref = Reference::get();
  const loader::ModelSource source = loader::load_model_source(kHfDir);
  ModelOptions half = exact_options();
  half.gpu_layers = source.config.n_layer / 2;
  LlamaModel with(source, cpu, std::move(half));
  LlamaModel without(source, cpu, exact_options());
  EXPECT_TRUE(with.placement().everything_on_device());
  EXPECT_TRUE(with.residency().resident());
  KvCache a = with.create_kv_cache(64, GGML_TYPE_F32);
  KvCache b = without.create_kv_cache(64, GGML_TYPE_F32);
  EXPECT_TRUE(a.residency().resident());
  const auto ids = ref.input_ids(4);
  EXPECT_EQ(with.forward(prompt_batch(ids), a), without.forward(prompt_batch(ids), b));  // bit for bit
}

// The CPU posing as a GPU: the model then keeps --gpu-layers, splits its weights and KV cache into
// two sets of buffers and schedules over two CPU backends, so the split path runs without a GPU.
core::Device cpu_posing_as_gpu() {
  core::DeviceInfo info = core::cpu_device();
  info.id = "cpu-as-gpu";
  info.is_gpu = true;
  return core::Device(std::move(info), 1);
}

TEST(GpuLayersModel, SplitModelOnTwoCpuBackendsComputesWhatTheWholeModelDoes) {
  const auto& ref = Reference::get();
  const auto ids = ref.input_ids(4);
  core::Device dev = cpu_posing_as_gpu();
  const loader::ModelSource source = loader::load_model_source(kHfDir);
  LlamaModel whole(source, dev, exact_options());
  KvCache whole_kv = whole.create_kv_cache(64, GGML_TYPE_F32);
  const auto want = whole.forward(prompt_batch(ids), whole_kv);
  EXPECT_LT(rel_l2(want, ref.at("case4.logits").f32), 1e-5);
  for (const int n : {0, 1, 3, 6}) {
    ModelOptions o = exact_options();
    o.gpu_layers = n;
    LlamaModel split(source, dev, std::move(o));
    EXPECT_EQ(split.placement().first_device_layer, 6 - n) << n;
    KvCache kv = split.create_kv_cache(64, GGML_TYPE_F32);
    EXPECT_EQ(kv.buffers()[0] != nullptr, n > 0) << n;
    EXPECT_EQ(kv.buffers()[1] != nullptr, n < 6) << n;
    EXPECT_LT(rel_l2(split.forward(prompt_batch(ids), kv), want), 1e-6) << n;
    // A decode step through the split cache.
    KvCache step_kv = split.create_kv_cache(64, GGML_TYPE_F32);
    split.forward(prompt_batch({ids.begin(), ids.end() - 1}), step_kv);
    Batch last;
    last.add(ids.back(), static_cast<int32_t>(ids.size() - 1), 0, true);
    const std::vector<float> want_last(want.end() - whole.n_vocab(), want.end());
    EXPECT_LT(rel_l2(split.forward(last, step_kv), want_last), 1e-5) << n;
  }
}

// --- Partial offload on a GPU (RBEES_TEST_DEVICE=cuda:0) ---

struct Logits {
  std::vector<float> prompt;              // every row of the prompt in one pass
  std::vector<std::vector<float>> steps;  // decode steps through the KV cache
};

// The 30-token prompt in one pass; then its first 20 tokens as a prefill and the other 10 one at a
// time. ggml-cuda runs F32 products of more than 16 columns and of one column in exact F32 (see
// kGpuF32Floor), so both models compute the same numbers but for summation order.
Logits run_prompt_and_decode(LlamaModel& m, const std::vector<int32_t>& ids) {
  Logits out;
  KvCache full_kv = m.create_kv_cache(64, GGML_TYPE_F32);
  out.prompt = m.forward(prompt_batch(ids), full_kv);
  KvCache kv = m.create_kv_cache(64, GGML_TYPE_F32);
  constexpr size_t kPrefill = 20;
  Batch b;
  for (size_t i = 0; i < kPrefill; ++i) b.add(ids[i], static_cast<int32_t>(i), 0, i + 1 == kPrefill);
  out.steps.push_back(m.forward(b, kv));
  for (size_t i = kPrefill; i < ids.size(); ++i) {
    Batch step;
    step.add(ids[i], static_cast<int32_t>(i), 0, true);
    out.steps.push_back(m.forward(step, kv));
  }
  return out;
}

// Prompt attention is split in halves by default only where every repeating layer is on the CUDA
// device: ggml's CPU kernel, which runs the layers left on the CPU, is slower with halves.
TEST(GpuLayersOnGpu, PromptAttentionIsSplitOnlyWhereEveryLayerIsOnTheGpu) {
  if (!testing_on_gpu()) GTEST_SKIP() << "needs a GPU: set RBEES_TEST_DEVICE=cuda:0 (scripts/gpu/check.sh does)";
  const bool cuda = std::string(std::getenv("RBEES_TEST_DEVICE")).rfind("cuda", 0) == 0;
  LoadedModel full(kHfDir, exact_options(true));
  const int n_layer = full.model->config().n_layer;
  EXPECT_EQ(full.model->splits_prompt_attention(), cuda);
  for (const int n : {0, n_layer - 1, n_layer}) {
    ModelOptions o = exact_options(true);
    o.gpu_layers = n;
    LoadedModel part(kHfDir, std::move(o));
    EXPECT_EQ(part.model->splits_prompt_attention(), cuda && n == n_layer) << "gpu_layers " << n;
  }
}

TEST(GpuLayersOnGpu, PartialOffloadComputesWhatFullOffloadDoesAndReportsBothDevices) {
  if (!testing_on_gpu()) GTEST_SKIP() << "needs a GPU: set RBEES_TEST_DEVICE=cuda:0 (scripts/gpu/check.sh does)";
  const auto& ref = Reference::get();
  const auto ids = ref.input_ids(4);  // the longest prompt, 30 tokens
  ASSERT_EQ(ids.size(), 30u);

  LoadedModel full(kHfDir, exact_options());
  const int n_layer = full.model->config().n_layer;  // 6
  ASSERT_TRUE(full.model->placement().everything_on_device());
  ASSERT_TRUE(full.model->residency().resident());
  const Logits want = run_prompt_and_decode(*full.model, ids);
  EXPECT_LT(rel_l2(want.prompt, ref.at("case4.logits").f32), device_tolerance(1e-5));

  for (const int n : {n_layer / 2, 0, 1, n_layer}) {
    SCOPED_TRACE("gpu_layers " + std::to_string(n));
    ModelOptions o = exact_options();
    o.gpu_layers = n;
    LoadedModel part(kHfDir, std::move(o));
    LlamaModel& m = *part.model;
    EXPECT_EQ(m.placement().first_device_layer, n_layer - n);
    EXPECT_FALSE(m.placement().output_on_device);

    // Weights: the embeddings and output norm (and, below n_layer, some layers) are in CPU memory.
    const auto weights = m.residency();
    EXPECT_FALSE(weights.resident());
    EXPECT_GT(weights.bytes_elsewhere, 0u);
    EXPECT_EQ(weights.bytes_on_requested > 0, n > 0);
    bool cpu_buffer = false, device_buffer = false;
    for (const auto& b : weights.buffers) (b.on_requested ? device_buffer : cpu_buffer) = true;
    EXPECT_TRUE(cpu_buffer);
    EXPECT_EQ(device_buffer, n > 0);

    // KV cache: one layer's K and V per layer, on the side of its layer.
    KvCache probe = m.create_kv_cache(64, GGML_TYPE_F32);
    const auto kv = probe.residency();
    const size_t per_layer = 2 * static_cast<size_t>(probe.k(0)->ne[1]) * static_cast<size_t>(m.head_dim()) *
                             m.config().n_head_kv * sizeof(float);
    EXPECT_EQ(kv.bytes_on_requested, per_layer * n);
    EXPECT_EQ(kv.bytes_elsewhere, per_layer * (n_layer - n));
    EXPECT_EQ(kv.resident(), n == n_layer);

    const Logits got = run_prompt_and_decode(m, ids);
    EXPECT_LT(rel_l2(got.prompt, want.prompt), device_tolerance(1e-5));
    ASSERT_EQ(got.steps.size(), want.steps.size());
    for (size_t i = 0; i < got.steps.size(); ++i) {
      EXPECT_LT(rel_l2(got.steps[i], want.steps[i]), device_tolerance(1e-5)) << "step " << i;
    }
  }

  // One more than n_layer (the output layer too) is everything, as without the option.
  ModelOptions o = exact_options();
  o.gpu_layers = n_layer + 1;
  LoadedModel all(kHfDir, std::move(o));
  EXPECT_TRUE(all.model->placement().everything_on_device());
  EXPECT_TRUE(all.model->residency().resident());
  KvCache kv = all.model->create_kv_cache(64, GGML_TYPE_F32);
  EXPECT_TRUE(kv.residency().resident());
  // The same graph on the same device: equal but for the order of any atomic sums in the kernels.
  EXPECT_LT(rel_l2(all.model->forward(prompt_batch(ids), kv), want.prompt), 1e-6);
}

}  // namespace
}  // namespace rbees::model::testing
