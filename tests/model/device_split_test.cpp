// A model split across devices: the layer placement, and the logits and greedy continuations of a
// split over two CPU backends (`cpu,cpu`) and over the local CPU plus two rpc-server processes
// (ggml-rpc over loopback), against one device and transformers' reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "core/rpc.hpp"
#include "core/rpc_server_process.hpp"
#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

TEST(SplitLayers, EqualSharesSplitFiveLayersThreeWays) {
  const LayerPlacement p = split_layers(5, {1, 1, 1});
  EXPECT_EQ(p.layer_devices, (std::vector<int>{0, 0, 1, 1, 2}));
  EXPECT_EQ(p.output_device, 2);
  EXPECT_EQ(p.n_devices(), 3);
  EXPECT_EQ(p.device_of(4), 2);
  EXPECT_TRUE(p.everything_on_device());
}

TEST(SplitLayers, SharesAreProportionsAndADeviceMayGetNoLayer) {
  EXPECT_EQ(split_layers(4, {3, 1}).layer_devices, (std::vector<int>{0, 0, 0, 1}));
  EXPECT_EQ(split_layers(4, {6, 2}).layer_devices, (std::vector<int>{0, 0, 0, 1}));
  const LayerPlacement p = split_layers(4, {1, 0});
  EXPECT_EQ(p.layer_devices, (std::vector<int>{0, 0, 0, 0}));
  EXPECT_EQ(p.output_device, 1);  // the output layer stays on the last device
}

TEST(SplitLayers, RefusesNoDeviceNegativeOrZeroShares) {
  EXPECT_THROW(split_layers(4, {}), std::invalid_argument);
  EXPECT_THROW(split_layers(4, {1, -1}), std::invalid_argument);
  EXPECT_THROW(split_layers(4, {0, 0}), std::invalid_argument);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", x);
  return buf;
}

// A model on `devices` (the first is the model's device, the rest ModelOptions::more_devices).
struct SplitModel {
  std::vector<std::unique_ptr<core::Device>> devices;
  loader::ModelSource source;
  std::unique_ptr<LlamaModel> model;
  SplitModel(const std::string& path, const std::vector<core::DeviceInfo>& infos, ModelOptions o)
      : source(loader::load_model_source(path)) {
    for (const auto& info : infos) devices.push_back(std::make_unique<core::Device>(info, 1));
    for (size_t i = 1; i < devices.size(); ++i) o.more_devices.push_back(devices[i].get());
    model = std::make_unique<LlamaModel>(source, *devices[0], std::move(o));
  }
};

// Every reference case: the split's logits against one device's (max absolute difference) and the
// reference (relative L2 below `tol`), and its greedy continuation against the reference's.
void expect_same_as_one_device(const std::string& path, const std::vector<core::DeviceInfo>& infos, ModelOptions o,
                               ggml_type kv_type, double tol, double max_diff) {
  const auto& ref = Reference::get();
  // A split attends with ggml's flash kernel (the CPU attention op serves one CPU device only): so
  // does the one-device model compared against it.
  o.cpu_attention = false;
  SplitModel split(path, infos, o);
  // One device of the split's first kind: the CPU, also where the tests run on a GPU.
  LoadedModel one(path, o, infos[0]);
  double worst = 0, worst_ref = 0;
  for (int c = 0; c < ref.n_cases(); ++c) {
    const auto ids = ref.input_ids(c);
    KvCache kv_split = split.model->create_kv_cache(128, kv_type);
    KvCache kv_one = one.model->create_kv_cache(128, kv_type);
    const std::vector<float> a = split.model->forward(prompt_batch(ids), kv_split);
    const std::vector<float> b = one.model->forward(prompt_batch(ids), kv_one);
    worst = std::max(worst, max_abs_diff(a, b));
    worst_ref = std::max(worst_ref, rel_l2(a, ref.at("case" + std::to_string(c) + ".logits").f32));

    const auto want = ref.greedy_ids(c);
    KvCache kv_g = split.model->create_kv_cache(128, kv_type);
    KvCache kv_g1 = one.model->create_kv_cache(128, kv_type);
    const auto got = greedy(*split.model, kv_g, ids, static_cast<int>(want.size()));
    EXPECT_EQ(got, greedy(*one.model, kv_g1, ids, static_cast<int>(want.size()))) << "case " << c;
    expect_greedy_follows_reference(got, want, ids, c);
  }
  EXPECT_LE(worst, max_diff);
  EXPECT_LT(worst_ref, tol);
  ::testing::Test::RecordProperty("logits_max_abs_diff_vs_one_device", sci(worst));
  ::testing::Test::RecordProperty("logits_rel_l2_vs_reference", sci(worst_ref));
  std::printf("split over %zu devices: logits max |diff| vs one device %s, rel L2 vs reference %s\n", infos.size(),
              sci(worst).c_str(), sci(worst_ref).c_str());
}

TEST(CpuCpuSplit, EachLayersWeightsAndCacheAreOnItsDevice) {
  const auto cpu = core::cpu_device();
  SplitModel s(kHfDir, {cpu, cpu}, exact_options());
  const int n_layer = s.model->config().n_layer;
  KvCache kv = s.model->create_kv_cache(64, GGML_TYPE_F32);
  const auto shares = s.model->device_shares(&kv);
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_EQ(shares[0].layers + shares[1].layers, n_layer);
  EXPECT_GT(shares[0].layers, 0);
  EXPECT_GT(shares[1].layers, 0);
  EXPECT_TRUE(shares[0].input);
  EXPECT_FALSE(shares[0].output);
  EXPECT_TRUE(shares[1].output);
  const size_t per_layer = 2 * static_cast<size_t>(ggml_nbytes(kv.k(0)));
  EXPECT_EQ(shares[0].kv_bytes, per_layer * shares[0].layers);
  EXPECT_EQ(shares[1].kv_bytes, per_layer * shares[1].layers);
  EXPECT_GT(shares[0].weight_bytes, 0u);
  EXPECT_GT(shares[1].weight_bytes, 0u);
  const auto buffers = kv.buffers();
  ASSERT_EQ(buffers.size(), 3u);  // device 0, (no CPU-left layers), device 1
  const LayerPlacement& p = s.model->placement();
  for (int il = 0; il < n_layer; ++il) {
    EXPECT_EQ(kv.k(il)->buffer, p.device_of(il) == 0 ? buffers[0] : buffers[2]) << il;
  }
  EXPECT_TRUE(s.model->residency().resident());
  EXPECT_TRUE(kv.residency().resident());
}

TEST(CpuCpuSplit, LogitsAndGreedyContinuationsEqualOneDevice) {
  const auto cpu = core::cpu_device();
  expect_same_as_one_device(kHfDir, {cpu, cpu}, exact_options(), GGML_TYPE_F32, 1e-5, 0.0);
}

TEST(CpuCpuSplit, FlashAttentionF16CacheEqualsOneDevice) {
  const auto cpu = core::cpu_device();
  ModelOptions o;
  o.flash_attention = true;
  expect_same_as_one_device(kF16Gguf, {cpu, cpu}, o, GGML_TYPE_F16, 5e-3, 0.0);
}

TEST(CpuCpuSplit, TensorSplitWithTheWrongCountIsRefused) {
  const auto cpu = core::cpu_device();
  ModelOptions o = exact_options();
  o.tensor_split = {1, 1, 1};
  EXPECT_THROW(SplitModel(kHfDir, {cpu, cpu}, o), std::invalid_argument);
}

TEST(CpuCpuSplit, RowSplitIsRefusedOutsideCuda) {
  const auto cpu = core::cpu_device();
  ModelOptions o = exact_options();
  o.row_split = true;
  try {
    SplitModel s(kHfDir, {cpu, cpu}, o);
    FAIL() << "a row split on CPU devices was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
}

// The acceptance split: the local CPU and two rpc-server processes, a third of the layers each.
class RpcSplit : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* s : {&a_, &b_}) ASSERT_TRUE(s->wait_ready()) << "rpc-server did not start";
    infos_ = {core::cpu_device()};
    for (auto* s : {&a_, &b_}) {
      auto remote = core::rpc_devices(core::parse_rpc_endpoint(s->endpoint()), std::chrono::seconds(5));
      ASSERT_EQ(remote.size(), 1u);
      infos_.push_back(remote[0]);
    }
  }
  rbees::testing::RpcServerProcess a_, b_;
  std::vector<core::DeviceInfo> infos_;
};

TEST_F(RpcSplit, F32LogitsWithin1e5AndGreedyContinuationsEqualOneProcess) {
  expect_same_as_one_device(kHfDir, infos_, exact_options(), GGML_TYPE_F32, 1e-5, 1e-5);
}

TEST_F(RpcSplit, F16LogitsWithinTheF16ToleranceAndGreedyContinuationsEqualOneProcess) {
  ModelOptions o;
  o.flash_attention = true;
  expect_same_as_one_device(kF16Gguf, infos_, o, GGML_TYPE_F16, 5e-3, 1e-3);
}

TEST_F(RpcSplit, EachDeviceHoldsAThirdOfTheLayersAndItsCache) {
  SplitModel s(kHfDir, infos_, exact_options());
  KvCache kv = s.model->create_kv_cache(64, GGML_TYPE_F32);
  const auto shares = s.model->device_shares(&kv);
  ASSERT_EQ(shares.size(), 3u);
  EXPECT_EQ(shares[0].id, "cpu");
  EXPECT_EQ(shares[1].id, "rpc:" + a_.endpoint());
  EXPECT_EQ(shares[2].id, "rpc:" + b_.endpoint());
  int layers = 0;
  for (const auto& d : shares) {
    EXPECT_GT(d.layers, 0) << d.id;
    EXPECT_GT(d.weight_bytes, 0u) << d.id;
    EXPECT_GT(d.kv_bytes, 0u) << d.id;
    layers += d.layers;
  }
  EXPECT_EQ(layers, s.model->config().n_layer);
  EXPECT_TRUE(shares[2].output);
  EXPECT_TRUE(s.model->residency().resident());
}

}  // namespace
}  // namespace rbees::model::testing
