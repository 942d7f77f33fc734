#include "sampling/logprobs.hpp"
#include "sampling/sampler.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace rbees::sampling {
namespace {

TEST(Logprobs, LogSumExpIsStableForLargeLogits) {
  std::vector<float> logits = {1000.0f, 1000.0f};
  EXPECT_NEAR(log_sum_exp(logits), 1000.0 + std::log(2.0), 1e-9);
  std::vector<float> banned = {-std::numeric_limits<float>::infinity()};
  EXPECT_TRUE(std::isinf(log_sum_exp(banned)));
}

TEST(Logprobs, TopNMatchesDirectLogSoftmax) {
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  double z = 0;
  for (float l : logits) z += std::exp(l);
  auto top = top_logprobs(logits, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].id, 1);
  EXPECT_EQ(top[1].id, 3);
  EXPECT_EQ(top[2].id, 4);
  EXPECT_NEAR(top[0].logprob, std::log(std::exp(2.0) / z), 1e-6);
  EXPECT_NEAR(top[2].logprob, std::log(std::exp(1.0) / z), 1e-6);
  EXPECT_NEAR(token_logprob(logits, 2), std::log(std::exp(-1.0) / z), 1e-6);
  EXPECT_EQ(top_logprobs(logits, 20).size(), logits.size());
  EXPECT_TRUE(top_logprobs(logits, 0).empty());
}

TEST(Logprobs, SamplerReportsLogprobsAfterBiasBeforeTemperature) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.logit_bias = {{0, 3.0f}};
  Sampler s(p);
  std::vector<float> logits = {0.0f, 2.0f, 1.0f};
  auto r = s.sample_with_logprobs(logits, 2);
  const double z = std::exp(3.0) + std::exp(2.0) + std::exp(1.0);
  EXPECT_EQ(r.id, 0);
  EXPECT_NEAR(r.logprob, std::log(std::exp(3.0) / z), 1e-6);
  ASSERT_EQ(r.top.size(), 2u);
  EXPECT_EQ(r.top[1].id, 1);
  EXPECT_NEAR(r.top[1].logprob, std::log(std::exp(2.0) / z), 1e-6);

  // Temperature changes the draw, not the reported numbers.
  SamplingParams hot = p;
  hot.temperature = 1.7f;
  hot.seed = 1;
  Sampler t(hot);
  auto q = t.sample_with_logprobs(logits, 1);
  EXPECT_NEAR(q.top[0].logprob, r.top[0].logprob, 1e-6);
}

}  // namespace
}  // namespace rbees::sampling
