#include "model/op_profile.hpp"

#include <gtest/gtest.h>

namespace rbees::model {
namespace {

class OpProfileKey : public ::testing::Test {
 protected:
  void SetUp() override { ctx_ = ggml_init({64 * ggml_tensor_overhead(), nullptr, true}); }
  void TearDown() override { ggml_free(ctx_); }
  ggml_context* ctx_ = nullptr;
};

TEST_F(OpProfileKey, WeightProductsAreKeyedByTheirTokenCount) {
  ggml_tensor* w = ggml_new_tensor_2d(ctx_, GGML_TYPE_F16, 64, 32);
  for (const auto& [n, want] : {std::pair{1, "MUL_MAT (weights, <=64 tokens)"},
                                {64, "MUL_MAT (weights, <=64 tokens)"},
                                {65, "MUL_MAT (weights, 65-512 tokens)"},
                                {512, "MUL_MAT (weights, 65-512 tokens)"},
                                {513, "MUL_MAT (weights, >512 tokens)"}}) {
    ggml_tensor* x = ggml_new_tensor_2d(ctx_, GGML_TYPE_F32, 64, n);
    EXPECT_EQ(op_profile_key(ggml_mul_mat(ctx_, w, x)), want) << n;
  }
}

TEST_F(OpProfileKey, CacheAndActivationProductsAndAttentionPathsAreTold) {
  ggml_tensor* cache = ggml_new_tensor_2d(ctx_, GGML_TYPE_F16, 64, 32);
  ggml_set_name(cache, "cache_k_l0");
  ggml_tensor* x = ggml_new_tensor_2d(ctx_, GGML_TYPE_F32, 64, 4);
  EXPECT_EQ(op_profile_key(ggml_mul_mat(ctx_, ggml_view_2d(ctx_, cache, 64, 8, cache->nb[1], 0), x)),
            "MUL_MAT (kv cache)");
  ggml_tensor* input = ggml_new_tensor_2d(ctx_, GGML_TYPE_F32, 64, 4);
  ggml_set_input(input);
  EXPECT_EQ(op_profile_key(ggml_mul_mat(ctx_, input, x)), "MUL_MAT (activations)");

  ggml_tensor* s = ggml_scale(ctx_, x, 2.0f);
  EXPECT_EQ(op_profile_key(s), "SCALE");
  ggml_set_name(s, "attend_run_region-12");
  EXPECT_EQ(op_profile_key(s), "SCALE (run_region)");
  ggml_set_name(s, "attend_streams");
  EXPECT_EQ(op_profile_key(s), "SCALE (streams)");
}

}  // namespace
}  // namespace rbees::model
