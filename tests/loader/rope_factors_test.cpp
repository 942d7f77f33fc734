// Llama 3 RoPE factors against values worked out by hand from transformers' formula.
#include <gtest/gtest.h>

#include "loader/rope_factors.hpp"

namespace rbees::loader {
namespace {

TEST(Llama3FreqFactors, MatchTransformersFormula) {
  // The default model's RoPE: head_dim 32, theta 5e5, factor 8, low 1, high 4, original context 256.
  // Wavelength 2*pi*5e5^(i/16) of pair i: pairs 0-2 are below 256/4 = 64 (factor 1), pairs >= 5 above
  // 256/1 (factor 8). Pair 3 (wavelength 73.58): s = (256/73.58 - 1)/3 = 0.82643, 1/((1-s)/8 + s) =
  // 1.17903; pair 4 (wavelength 167.08): s = 0.17740, 1/((1-s)/8 + s) = 3.56853.
  RopeConfig rope;
  rope.theta = 500000.0f;
  rope.scaling = RopeScaling::llama3;
  rope.factor = 8.0f;
  rope.low_freq_factor = 1.0f;
  rope.high_freq_factor = 4.0f;
  rope.original_context = 256;
  const auto f = llama3_rope_factors(rope, 32);
  ASSERT_EQ(f.size(), 16u);
  EXPECT_FLOAT_EQ(f[0], 1.0f);
  EXPECT_FLOAT_EQ(f[2], 1.0f);
  EXPECT_NEAR(f[3], 1.17903, 1e-4);
  EXPECT_NEAR(f[4], 3.56853, 1e-4);
  EXPECT_FLOAT_EQ(f[5], 8.0f);
  EXPECT_FLOAT_EQ(f[15], 8.0f);
}

}  // namespace
}  // namespace rbees::loader
