// A model wholly on one device other than the CPU keeps its graphs' inputs in the device's memory
// and queues their uploads ahead of the graph (LlamaModel::inputs_on_device). Checked here on a
// device every machine has: an rpc-server process serving the CPU over loopback, whose logits must
// equal the local CPU's through every kind of input (prompt runs over regions, decode streams padded
// to a bucket and reordered, a whole-span mask).
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/rpc.hpp"
#include "core/rpc_server_process.hpp"
#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

class RemoteDeviceInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.wait_ready()) << "rpc-server did not start";
    auto remote = core::rpc_devices(core::parse_rpc_endpoint(server_.endpoint()), std::chrono::seconds(5));
    ASSERT_EQ(remote.size(), 1u);
    remote_ = remote[0];
  }
  rbees::testing::RpcServerProcess server_;
  core::DeviceInfo remote_;
};

// The model on the remote device and on the CPU, each with a cache of four regions.
struct RemoteAndLocal {
  LoadedModel remote, local;
  KvCache kv_r, kv_l;
  RemoteAndLocal(const core::DeviceInfo& remote_device, ModelOptions o)
      : remote(kHfDir, o, remote_device),
        local(kHfDir, without_placement(o), core::cpu_device()),
        kv_r(remote.model->create_kv_cache(1024, GGML_TYPE_F32)),
        kv_l(local.model->create_kv_cache(1024, GGML_TYPE_F32)) {
    kv_r.set_regions(4);
    kv_l.set_regions(4);
  }
  static ModelOptions without_placement(ModelOptions o) {
    o.inputs_on_device.reset();
    o.gpu_layers.reset();
    return o;
  }
};

// The same passes on the remote model (inputs on the device, or on the host) and the CPU's, logits
// compared pass by pass; returns the largest difference.
double remote_against_cpu(const core::DeviceInfo& remote_device, std::optional<bool> inputs_on_device,
                          bool expect_on_device, std::optional<int> gpu_layers = std::nullopt) {
  ModelOptions o = exact_options(true);
  o.cpu_attention = false;  // the CPU model attends with ggml's flash kernel too, as the remote one
  o.inputs_on_device = inputs_on_device;
  o.gpu_layers = gpu_layers;
  RemoteAndLocal m(remote_device, o);
  LoadedModel& remote = m.remote;
  LoadedModel& local = m.local;
  KvCache& kv_r = m.kv_r;
  KvCache& kv_l = m.kv_l;
  EXPECT_EQ(remote.model->inputs_on_device(), expect_on_device);
  EXPECT_FALSE(local.model->inputs_on_device());
  std::vector<int32_t> next_pos;
  const Batch prompts = staggered_prompts(3, remote.model->n_vocab(), next_pos);
  std::vector<Batch> passes = {prompts};
  // Decode steps of the three sequences (streams, padded and reordered: sequence 2 first), then one
  // whose second sequence also carries a chunk of four tokens (a run beside the streams).
  for (int step = 0; step < 3; ++step) {
    Batch d;
    for (int32_t s : {2, 0, 1}) d.add(5 + s + step, next_pos[static_cast<size_t>(s)]++, s, true);
    passes.push_back(d);
  }
  Batch mixed;
  mixed.add(9, next_pos[0]++, 0, true);
  for (int i = 0; i < 4; ++i) mixed.add(20 + i, next_pos[1]++, 1, i == 3);
  passes.push_back(mixed);

  double worst = 0;
  for (size_t i = 0; i < passes.size(); ++i) {
    const std::vector<float> a = remote.model->forward(passes[i], kv_r);
    const std::vector<float> b = local.model->forward(passes[i], kv_l);
    EXPECT_EQ(a.size(), b.size()) << "pass " << i;
    const double d = max_abs_diff(a, b);
    EXPECT_LE(d, 1e-4) << "pass " << i;
    worst = std::max(worst, d);
  }
  return worst;
}

TEST_F(RemoteDeviceInputs, LiveOnTheDeviceByDefaultAndGiveTheCpusLogitsForPromptsStreamsAndSpans) {
  const double worst = remote_against_cpu(remote_, std::nullopt, true);
  std::printf("one remote device, inputs on it: logits max |diff| vs the CPU %.3e\n", worst);
}

TEST_F(RemoteDeviceInputs, OffKeepsThemOnTheHostWithTheSameLogits) {
  const double worst = remote_against_cpu(remote_, false, false);
  std::printf("one remote device, inputs on the host: logits max |diff| vs the CPU %.3e\n", worst);
}

// Layers left on the CPU by --gpu-layers (the token embedding among them) read the inputs there: by
// default they stay on the host; asked for, they live on the device and reach the CPU's layers once
// their uploads have landed.
TEST_F(RemoteDeviceInputs, WithLayersOnTheCpuStayOnTheHostUnlessAskedForAndGiveTheSameLogits) {
  const double by_default = remote_against_cpu(remote_, std::nullopt, false, 3);
  const double asked = remote_against_cpu(remote_, true, true, 3);
  std::printf(
      "three of six layers on a remote device: logits max |diff| vs the CPU %.3e (inputs on the host), "
      "%.3e (on the device)\n",
      by_default, asked);
}

// Passes run ahead (the engine's overlapped steps) on the remote device, whose graphs are computed
// asynchronously: each decode step is prepared while the one before still computes, its tokens
// unknown (0) until that one's picks are waited for, then launched with them. The picks must be the
// CPU's, which runs the same steps one after another with the real tokens.
TEST_F(RemoteDeviceInputs, PassesRunAheadGiveTheCpusPicks) {
  ModelOptions o = exact_options(true);
  o.cpu_attention = false;
  RemoteAndLocal m(remote_, o);
  LoadedModel& remote = m.remote;
  LoadedModel& local = m.local;
  KvCache& kv_r = m.kv_r;
  KvCache& kv_l = m.kv_l;
  ASSERT_TRUE(remote.model->inputs_on_device());
  constexpr int kSteps = 4;
  EXPECT_EQ(greedy_steps(*remote.model, kv_r, kSteps, true), greedy_steps(*local.model, kv_l, kSteps, false));
  std::vector<int32_t> next_pos;
  staggered_prompts(3, remote.model->n_vocab(), next_pos);
  const std::vector<int32_t> order = {2, 0, 1};
  // Out of order is refused: two prepared, tokens not the batch's, a launch with none prepared.
  Batch d;
  for (int32_t s : order) d.add(1, next_pos[static_cast<size_t>(s)] + kSteps, s, true);
  remote.model->prepare_ahead(d, kv_r);
  EXPECT_THROW(remote.model->prepare_ahead(d, kv_r), std::logic_error);
  EXPECT_THROW(remote.model->launch_ahead(std::vector<int32_t>{1}), std::invalid_argument);
  remote.model->launch_ahead(std::vector<int32_t>{1, 2, 3});
  EXPECT_THROW(remote.model->launch_ahead(std::vector<int32_t>{1, 2, 3}), std::logic_error);
  remote.model->abandon_ahead();
  EXPECT_FALSE(remote.model->has_launched());
}

TEST(DeviceInputs, OnIsRefusedForTheCpu) {
  ModelOptions o;
  o.inputs_on_device = true;
  try {
    LoadedModel m(kHfDir, o, core::cpu_device());
    FAIL() << "inputs on the device accepted for the CPU";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--inputs-on-device"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rbees::model::testing
