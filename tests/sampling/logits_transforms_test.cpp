#include "sampling/logits_transforms.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace rbees::sampling {
namespace {

std::vector<Candidate> make_candidates(const std::vector<float>& logits) {
  std::vector<Candidate> out;
  for (size_t i = 0; i < logits.size(); ++i) out.push_back({static_cast<int32_t>(i), logits[i]});
  return out;
}

std::vector<int32_t> ids(const std::vector<Candidate>& c) {
  std::vector<int32_t> out;
  for (const auto& x : c) out.push_back(x.id);
  return out;
}

TEST(LogitBias, AddsToListedIdsAndIgnoresOutOfRange) {
  std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  apply_logit_bias(logits, {{0, 0.5f}, {2, -100.0f}, {7, 5.0f}, {-1, 5.0f}});
  EXPECT_EQ(logits, (std::vector<float>{1.5f, 2.0f, -97.0f}));
}

TEST(RepetitionPenalty, DividesPositiveAndMultipliesNegative) {
  std::vector<float> logits = {2.0f, -2.0f, 0.0f, 4.0f};
  apply_repetition_penalty(logits, {{0, 1}, {1, 3}, {2, 1}}, 2.0f);
  EXPECT_EQ(logits, (std::vector<float>{1.0f, -4.0f, 0.0f, 4.0f}));
}

TEST(RepetitionPenalty, CountDoesNotMatterOnlyPresence) {
  std::vector<float> once = {3.0f}, many = {3.0f};
  apply_repetition_penalty(once, {{0, 1}}, 1.5f);
  apply_repetition_penalty(many, {{0, 9}}, 1.5f);
  EXPECT_FLOAT_EQ(once[0], 2.0f);
  EXPECT_FLOAT_EQ(many[0], 2.0f);
}

TEST(PresenceFrequencyPenalty, SubtractsPresenceOnceAndFrequencyPerOccurrence) {
  std::vector<float> logits = {1.0f, 1.0f, 1.0f};
  apply_presence_frequency_penalty(logits, {{0, 1}, {1, 3}}, 0.5f, 0.25f);
  EXPECT_FLOAT_EQ(logits[0], 1.0f - 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(logits[1], 1.0f - 0.5f - 0.75f);
  EXPECT_FLOAT_EQ(logits[2], 1.0f);
}

TEST(PresenceFrequencyPenalty, NegativeValuesEncourageRepetition) {
  std::vector<float> logits = {0.0f};
  apply_presence_frequency_penalty(logits, {{0, 2}}, -1.0f, -0.5f);
  EXPECT_FLOAT_EQ(logits[0], 2.0f);
}

TEST(Temperature, DividesLogits) {
  auto c = make_candidates({1.0f, -3.0f});
  apply_temperature(c, 0.5f);
  EXPECT_FLOAT_EQ(c[0].logit, 2.0f);
  EXPECT_FLOAT_EQ(c[1].logit, -6.0f);
}

TEST(TopK, KeepsTheKHighestSorted) {
  auto c = make_candidates({0.1f, 3.0f, -1.0f, 2.0f, 2.5f});
  apply_top_k(c, 3);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 4, 3}));
}

TEST(TopK, ZeroOrLargeKeepsAllAndTiesGoToLowerId) {
  auto c = make_candidates({1.0f, 2.0f, 1.0f});
  apply_top_k(c, 0);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 0, 2}));
  auto d = make_candidates({1.0f, 2.0f, 1.0f});
  apply_top_k(d, 10);
  EXPECT_EQ(ids(d), (std::vector<int32_t>{1, 0, 2}));
}

TEST(TopP, KeepsSmallestPrefixReachingMass) {
  // Probabilities 0.5, 0.25, 0.125, 0.125 (logits are their logs).
  auto c = make_candidates({std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)});
  apply_top_p(c, 0.7f);  // 0.5 < 0.7 <= 0.75
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
  auto d = make_candidates({std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)});
  apply_top_p(d, 0.8f);  // needs a third token
  EXPECT_EQ(ids(d), (std::vector<int32_t>{1, 3, 0}));
  auto e = make_candidates({std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)});
  apply_top_p(e, 0.01f);  // always at least one
  EXPECT_EQ(ids(e), (std::vector<int32_t>{1}));
}

TEST(TopP, OneKeepsEverything) {
  auto c = make_candidates({0.0f, 1.0f, 2.0f});
  apply_top_p(c, 1.0f);
  EXPECT_EQ(c.size(), 3u);
}

TEST(TopP, LargeVocabularyMatchesFullSortReference) {
  // A flat-ish distribution over 5000 tokens needs many candidates, beyond the first partial sort.
  std::vector<float> logits(5000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>((i * 7919) % 1000) / 250.0f;
  for (float p : {0.05f, 0.5f, 0.9f, 0.999f}) {
    auto expected = make_candidates(logits);
    std::sort(expected.begin(), expected.end(), [](const Candidate& a, const Candidate& b) {
      return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
    });
    double total = 0.0;
    for (float l : logits) total += std::exp(static_cast<double>(l) - 3.996);
    double cumulative = 0.0;
    size_t keep = 0;
    while (keep < expected.size()) {
      cumulative += std::exp(static_cast<double>(expected[keep++].logit) - 3.996);
      if (cumulative >= p * total) break;
    }
    expected.resize(keep);
    auto c = make_candidates(logits);
    apply_top_p(c, p);
    if (p >= 0.5f) EXPECT_GT(c.size(), 64u);  // past the first partial sort
    EXPECT_EQ(ids(c), ids(expected)) << "p = " << p;
  }
}

TEST(MinP, KeepsTokensAboveFractionOfMax) {
  // Relative probabilities 1, 0.5, 0.2, 0.1.
  auto c = make_candidates({std::log(0.1f), std::log(0.5f), 0.0f, std::log(0.2f)});
  apply_min_p(c, 0.3f);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{2, 1}));
  auto d = make_candidates({std::log(0.1f), std::log(0.5f), 0.0f, std::log(0.2f)});
  apply_min_p(d, 0.15f);
  EXPECT_EQ(ids(d), (std::vector<int32_t>{2, 1, 3}));
  auto e = make_candidates({std::log(0.1f), std::log(0.5f), 0.0f, std::log(0.2f)});
  apply_min_p(e, 1.0f);
  EXPECT_EQ(ids(e), (std::vector<int32_t>{2}));
}

}  // namespace
}  // namespace rbees::sampling
