#include "sampling/logprobs.hpp"
#include "sampling/sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

TEST(Logprobs, TopNOfALargeRowIsTheFullSortsAndTiesGoToLowerIds) {
  // 32,000 logits on a coarse grid (many exact ties at every value), and a row masked to three
  // allowed tokens, where the rest of the top are -inf in id order.
  std::vector<float> logits(32000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>((i * 7919) % 64) * 0.25f;
  for (int n : {1, 5, 20, 500}) {
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    const auto top = top_logprobs(logits, n);
    ASSERT_EQ(top.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) EXPECT_EQ(top[static_cast<size_t>(i)].id, ids[static_cast<size_t>(i)]) << "n " << n;
  }
  std::vector<float> masked(1000, -std::numeric_limits<float>::infinity());
  masked[700] = 1.0f;
  masked[20] = 3.0f;
  masked[400] = 2.0f;
  const auto top = top_logprobs(masked, 5);
  ASSERT_EQ(top.size(), 5u);
  EXPECT_EQ(top[0].id, 20);
  EXPECT_EQ(top[1].id, 400);
  EXPECT_EQ(top[2].id, 700);
  EXPECT_EQ(top[3].id, 0);
  EXPECT_EQ(top[4].id, 1);
  EXPECT_TRUE(std::isinf(top[4].logprob));
}

}  // namespace
}  // namespace rbees::sampling
