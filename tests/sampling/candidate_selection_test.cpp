#include "sampling/candidate_selection.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "sampling/logits_transforms.hpp"

namespace rbees::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The truncations over the whole row, as a list of every token: what the selection must not change.
std::vector<Candidate> whole_row_pipeline(const std::vector<float>& row, const SamplingParams& p) {
  std::vector<Candidate> c;
  for (size_t i = 0; i < row.size(); ++i) {
    if (row[i] > kNegInf) c.push_back({static_cast<int32_t>(i), row[i]});  // not -inf, not NaN
  }
  apply_temperature(c, p.temperature);
  if (p.top_k > 0) apply_top_k(c, p.top_k);
  if (p.top_p < 1.0f) apply_top_p(c, p.top_p);
  if (p.min_p > 0.0f) apply_min_p(c, p.min_p);
  return c;
}

std::vector<Candidate> selected_pipeline(const std::vector<float>& row, const SamplingParams& p, size_t* listed) {
  std::vector<Candidate> c;
  const CandidateSelection s = select_candidates(row, p, c);
  *listed = c.size();
  if (c.empty()) return c;
  if (p.top_k > 0) apply_top_k(c, p.top_k);
  if (p.top_p < 1.0f) apply_top_p(c, p.top_p, s.mass_left_out);
  if (p.min_p > 0.0f) apply_min_p(c, p.min_p);
  return c;
}

std::string describe(const std::vector<Candidate>& c) {
  std::string out;
  for (const auto& x : c) out += std::to_string(x.id) + ":" + std::to_string(x.logit) + " ";
  return out;
}

// Rows of several kinds: spread (normal), peaked (a few tokens far ahead), flat with many exact
// ties (values on a coarse grid), with banned (-inf) and NaN tokens, and the integers 0 to 256 (at
// temperature 1 the top-k search's thresholds then fall on values of the row: ties at the threshold).
std::vector<std::vector<float>> rows(size_t vocab) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_int_distribution<int> grid(0, 15);
  std::vector<std::vector<float>> out;
  for (int kind = 0; kind < 5; ++kind) {
    std::vector<float> r(vocab);
    for (size_t i = 0; i < vocab; ++i) {
      switch (kind) {
        case 0: r[i] = normal(rng); break;
        case 1: r[i] = normal(rng) + (i % 997 == 3 ? 25.0f : 0.0f); break;
        case 2: r[i] = static_cast<float>(grid(rng)) * 0.5f; break;
        case 3: r[i] = i % 7 == 0 ? kNegInf : (i % 101 == 5 ? std::nanf("") : normal(rng)); break;
        default: r[i] = static_cast<float>(i % 257); break;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

TEST(CandidateSelection, TruncationsKeepWhatTheyKeepFromTheWholeRow) {
  size_t cases = 0;
  for (size_t vocab : {1u, 7u, 300u, 5000u, 32000u}) {
    for (const auto& row : rows(vocab)) {
      for (float t : {0.3f, 0.8f, 1.0f, 1.7f}) {
        for (int k : {0, 1, 5, 40, static_cast<int>(vocab) - 1, static_cast<int>(vocab), static_cast<int>(vocab) + 3}) {
          for (float top_p : {1.0f, 0.05f, 0.5f, 0.95f, 0.999f}) {
            for (float min_p : {0.0f, 0.05f}) {
              SamplingParams p;
              p.temperature = t;
              p.top_k = k;
              p.top_p = top_p;
              p.min_p = min_p;
              size_t listed = 0;
              const auto got = selected_pipeline(row, p, &listed);
              const auto want = whole_row_pipeline(row, p);
              ASSERT_EQ(describe(got), describe(want))
                  << "vocab " << vocab << " T " << t << " top_k " << k << " top_p " << top_p << " min_p " << min_p;
              ++cases;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 7000u);
}

// The point of the selection: on a spread row of a large vocabulary, a truncating draw's list starts
// far shorter than the vocabulary.
TEST(CandidateSelection, ListsOfALargeVocabularyAreShort) {
  const std::vector<float> row = rows(32000).front();
  auto listed = [&](int k, float top_p, float min_p) {
    SamplingParams p;
    p.temperature = 0.8f;
    p.top_k = k;
    p.top_p = top_p;
    p.min_p = min_p;
    std::vector<Candidate> c;
    select_candidates(row, p, c);
    return c.size();
  };
  EXPECT_LE(listed(40, 1.0f, 0.0f), 400u);
  EXPECT_GE(listed(40, 1.0f, 0.0f), 40u);
  EXPECT_LE(listed(0, 0.95f, 0.0f), 32000u / 8);
  EXPECT_LE(listed(0, 1.0f, 0.05f), 400u);
  EXPECT_EQ(listed(0, 1.0f, 0.0f), 32000u);  // nothing truncates: every token
}

TEST(CandidateSelection, TopKKeepsEveryTieOfTheKthValue) {
  // Ten tokens tie for first place: top_k 3 must list all ten, so that apply_top_k takes the three
  // lowest ids among them, as it does from the whole row.
  std::vector<float> row(1000, 0.0f);
  for (int i = 0; i < 10; ++i) row[static_cast<size_t>(100 * i + 7)] = 5.0f;
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 3;
  std::vector<Candidate> c;
  select_candidates(row, p, c);
  ASSERT_EQ(c.size(), 10u);
  apply_top_k(c, 3);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].id, 7);
  EXPECT_EQ(c[1].id, 107);
  EXPECT_EQ(c[2].id, 207);
}

TEST(CandidateSelection, NothingToDrawFromGivesAnEmptyList) {
  SamplingParams p;
  p.temperature = 0.7f;
  p.top_p = 0.9f;
  std::vector<Candidate> c{{1, 2.0f}};
  const CandidateSelection s = select_candidates(std::vector<float>(64, kNegInf), p, c);
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(s.mass_left_out, 0.0);
  select_candidates(std::vector<float>(64, std::nanf("")), p, c);
  EXPECT_TRUE(c.empty());
}

}  // namespace
}  // namespace rbees::sampling
