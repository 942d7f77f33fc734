// Proof that ggml is wired in end to end: ggml_rms_norm computed through the device layer on the CPU
// backend, against values computed by hand.
#include "core/device.hpp"

#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace rbees::core {
namespace {

TEST(DeviceRmsNorm, MatchesHandComputedValues) {
  Device cpu(find_device("cpu"), 1);

  ggml_init_params params{ggml_tensor_overhead() * 8 + ggml_graph_overhead(), nullptr, true};
  ggml_context* ctx = ggml_init(params);
  ggml_tensor* x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 4, 2);
  ggml_tensor* y = ggml_rms_norm(ctx, x, 1e-5f);
  ggml_cgraph* gf = ggml_new_graph(ctx);
  ggml_build_forward_expand(gf, y);
  ggml_backend_buffer_t buf = ggml_backend_alloc_ctx_tensors(ctx, cpu.backend());
  ASSERT_NE(buf, nullptr);

  // Row 0: 1,2,3,4 -> mean square 7.5; row 1: -2,0,2,0 -> mean square 2.
  const std::vector<float> in = {1, 2, 3, 4, -2, 0, 2, 0};
  ggml_backend_tensor_set(x, in.data(), 0, in.size() * sizeof(float));
  ASSERT_EQ(ggml_backend_graph_compute(cpu.backend(), gf), GGML_STATUS_SUCCESS);
  std::vector<float> out(8);
  ggml_backend_tensor_get(y, out.data(), 0, out.size() * sizeof(float));

  const float r0 = 1.0f / std::sqrt(7.5f + 1e-5f);
  const float r1 = 1.0f / std::sqrt(2.0f + 1e-5f);
  const std::vector<float> expect = {1 * r0, 2 * r0, 3 * r0, 4 * r0, -2 * r1, 0, 2 * r1, 0};
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], expect[i], 1e-6f) << "element " << i;
  EXPECT_NEAR(out[3], 1.4605934f, 1e-6f);  // 4 / sqrt(7.5)

  ggml_backend_buffer_free(buf);
  ggml_free(ctx);
}

TEST(Device, CpuIsAlwaysListedAndUnknownDevicesAreRejected) {
  auto devices = list_devices();
  ASSERT_FALSE(devices.empty());
  EXPECT_EQ(devices.back().id, "cpu");
  EXPECT_THROW(find_device("cuda:7"), std::invalid_argument);
  EXPECT_THROW(find_device("tpu"), std::invalid_argument);
  EXPECT_EQ(find_device("CPU").id, "cpu");
}

}  // namespace
}  // namespace rbees::core
