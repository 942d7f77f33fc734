#include "sampling/sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace rbees::sampling {
namespace {

const std::vector<float> kLogits = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f, -3.0f, -0.5f};

std::vector<int32_t> draw(SamplingParams p, const std::vector<float>& logits, int n) {
  Sampler s(p);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(s.sample(logits));
  return out;
}

TEST(Sampler, GreedyIsArgmax) {
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler s(p);
  EXPECT_EQ(s.sample(kLogits), 1);
  std::vector<float> tie = {0.0f, 5.0f, 5.0f};
  EXPECT_EQ(s.sample(tie), 1);  // first of equal maxima
}

TEST(Sampler, GreedyAppliesBiasAndPenalties) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.logit_bias = {{4, 0.6f}};  // 1.5 + 0.6 = 2.1 beats 2.0
  EXPECT_EQ(Sampler(p).sample(kLogits), 4);

  SamplingParams rep;
  rep.temperature = 0.0f;
  rep.repetition_penalty = 1.5f;
  const std::vector<int32_t> prompt = {1};  // 2.0 / 1.5 < 1.5
  EXPECT_EQ(Sampler(rep, prompt).sample(kLogits), 4);

  SamplingParams freq;
  freq.temperature = 0.0f;
  freq.frequency_penalty = 0.3f;
  Sampler s(freq);
  EXPECT_EQ(s.sample(kLogits), 1);  // nothing generated yet
  EXPECT_EQ(s.sample(kLogits), 1);  // 2.0 - 0.3 = 1.7 still best
  EXPECT_EQ(s.sample(kLogits), 4);  // 2.0 - 0.6 = 1.4 < 1.5
}

TEST(Sampler, PresencePenaltyIgnoresPromptTokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.presence_penalty = 2.0f;
  const std::vector<int32_t> prompt = {1, 1, 1};
  Sampler s(p, prompt);
  EXPECT_EQ(s.sample(kLogits), 1);
  EXPECT_EQ(s.sample(kLogits), 4);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDifferent) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  auto a = draw(p, kLogits, 200);
  auto b = draw(p, kLogits, 200);
  EXPECT_EQ(a, b);
  p.seed = 43;
  EXPECT_NE(a, draw(p, kLogits, 200));
}

TEST(Sampler, StreamDoesNotDependOnOtherSamplers) {
  SamplingParams p;
  p.seed = 7;
  auto alone = draw(p, kLogits, 50);
  Sampler x(p), noise(SamplingParams{});
  std::vector<int32_t> interleaved;
  for (int i = 0; i < 50; ++i) {
    noise.sample(kLogits);
    interleaved.push_back(x.sample(kLogits));
  }
  EXPECT_EQ(alone, interleaved);
}

// A temperature the API allows (0 to 2) but so small that logits divided by it overflow to +inf
// (1e-40 is a subnormal float, and 1/1e-40 overflows too): with every truncation, alone and together,
// as with none, the draw is the limit the temperature approaches: the greatest logit's token, and
// where several tie for it, any of them alike.
TEST(Sampler, TemperatureSoSmallThatLogitsOverflowIsGreedy) {
  // Tokens 30, 131 and 232 share the greatest logit; then token 30 alone has it.
  std::vector<float> logits(300);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>((i * 37) % 101) * 0.1f + 1.0f;
  const std::vector<float> tied = logits;
  logits[30] += 0.05f;
  const int32_t best = 30;
  for (float t : {1e-40f, 1e-38f}) {
    for (int mode = 0; mode < 5; ++mode) {
      SamplingParams p;
      p.temperature = t;
      p.seed = 5;
      if (mode == 1) p.top_p = 0.9f;
      if (mode == 2) p.top_k = 40;
      if (mode == 3) p.min_p = 0.05f;
      if (mode == 4) {
        p.top_k = 40;
        p.top_p = 0.9f;
        p.min_p = 0.05f;
      }
      Sampler s(p);
      EXPECT_EQ(s.sample(logits), best) << "temperature " << t << " mode " << mode;
      std::set<int32_t> drawn;
      for (int i = 0; i < 60; ++i) drawn.insert(s.sample(tied));
      EXPECT_EQ(drawn, (std::set<int32_t>{30, 131, 232})) << "temperature " << t << " mode " << mode;
    }
  }
}

TEST(Sampler, BannedTokenIsNeverDrawn) {
  SamplingParams p;
  p.seed = 3;
  p.logit_bias = {{1, -std::numeric_limits<float>::infinity()}};
  for (int32_t id : draw(p, kLogits, 2000)) EXPECT_NE(id, 1);
}

// Chi-square goodness of fit of `n` seeded draws against probabilities computed here from first
// principles. Tokens with expected probability zero must never appear.
void expect_distribution(const SamplingParams& p, const std::vector<double>& expected) {
  const int n = 20000;
  std::vector<int> counts(kLogits.size(), 0);
  for (int32_t id : draw(p, kLogits, n)) counts.at(id)++;
  double chi2 = 0.0;
  int bins = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " is excluded but was drawn";
      continue;
    }
    const double e = expected[i] * n;
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
    ++bins;
  }
  // Upper 0.999 quantiles of the chi-square distribution for 1..7 degrees of freedom.
  const double critical[] = {0, 10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322};
  const int dof = bins - 1;
  ASSERT_GE(dof, 1);
  ASSERT_LE(dof, 7);
  EXPECT_LT(chi2, critical[dof]) << "dof " << dof;
}

std::vector<double> softmax_of(const std::vector<float>& logits, double temperature, const std::vector<bool>& keep) {
  std::vector<double> p(logits.size(), 0.0);
  double z = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (keep[i]) z += std::exp(logits[i] / temperature);
  }
  for (size_t i = 0; i < logits.size(); ++i) {
    if (keep[i]) p[i] = std::exp(logits[i] / temperature) / z;
  }
  return p;
}

TEST(SamplerDistribution, Temperature) {
  SamplingParams p;
  p.seed = 1234;
  p.temperature = 0.7f;
  expect_distribution(p, softmax_of(kLogits, 0.7, std::vector<bool>(kLogits.size(), true)));
  p.temperature = 1.6f;
  expect_distribution(p, softmax_of(kLogits, 1.6, std::vector<bool>(kLogits.size(), true)));
}

TEST(SamplerDistribution, TopK) {
  SamplingParams p;
  p.seed = 99;
  p.top_k = 3;
  // The three largest logits are 2.0 (id 1), 1.5 (id 4), 1.0 (id 0).
  std::vector<bool> keep = {true, true, false, false, true, false, false, false};
  expect_distribution(p, softmax_of(kLogits, 1.0, keep));
}

TEST(SamplerDistribution, TopP) {
  SamplingParams p;
  p.seed = 5;
  p.top_p = 0.85f;
  p.temperature = 0.9f;
  // Full distribution at T = 0.9, then the smallest descending prefix with mass >= 0.85 (0.827 after three tokens,
  // 0.909 after four).
  auto full = softmax_of(kLogits, 0.9, std::vector<bool>(kLogits.size(), true));
  std::vector<size_t> order(kLogits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return full[a] > full[b]; });
  std::vector<bool> keep(kLogits.size(), false);
  double mass = 0.0;
  for (size_t i : order) {
    keep[i] = true;
    mass += full[i];
    if (mass >= 0.85) break;
  }
  ASSERT_EQ(std::count(keep.begin(), keep.end(), true), 4);  // 2.0, 1.5, 1.0, 0.5
  expect_distribution(p, softmax_of(kLogits, 0.9, keep));
}

TEST(SamplerDistribution, MinP) {
  SamplingParams p;
  p.seed = 77;
  p.min_p = 0.2f;
  // p_i >= 0.2 * p_max  <=>  l_i >= 2.0 + ln 0.2 = 0.3906: ids 1, 4, 0, 2.
  std::vector<bool> keep(kLogits.size());
  for (size_t i = 0; i < kLogits.size(); ++i) keep[i] = kLogits[i] >= 2.0 + std::log(0.2);
  ASSERT_EQ(std::count(keep.begin(), keep.end(), true), 4);
  expect_distribution(p, softmax_of(kLogits, 1.0, keep));
}

TEST(SamplerDistribution, CombinedInDocumentedOrder) {
  SamplingParams p;
  p.seed = 2024;
  p.temperature = 2.0f;
  p.top_k = 5;     // ids 1, 4, 0, 2, 5
  p.min_p = 0.6f;  // at T = 2: l_i >= 2.0 + 2 ln 0.6 = 0.978: ids 1, 4, 0
  std::vector<bool> keep = {true, true, false, false, true, false, false, false};
  expect_distribution(p, softmax_of(kLogits, 2.0, keep));
}

}  // namespace
}  // namespace rbees::sampling

namespace rbees::sampling {
namespace {

// Allows a fixed set of tokens and records what it was advanced by.
struct SetConstraint : LogitsConstraint {
  std::vector<uint64_t> mask = std::vector<uint64_t>(1, 0);
  std::vector<int32_t> taken;
  explicit SetConstraint(std::initializer_list<int> ids) {
    for (int i : ids) mask[0] |= 1ull << i;
  }
  std::span<const uint64_t> allowed() override { return mask; }
  bool accept(int32_t id) override {
    if (!((mask[0] >> id) & 1)) return false;
    taken.push_back(id);
    return true;
  }
};

TEST(SamplerConstraint, MaskAppliesBeforeEveryOtherStep) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.logit_bias[6] = 100.0f;  // biased, but not allowed
  Sampler s(p);
  auto c = std::make_unique<SetConstraint>(std::initializer_list<int>{2, 4, 5});
  SetConstraint* seen = c.get();
  s.set_constraint(std::move(c));
  EXPECT_FALSE(s.plain_greedy());
  EXPECT_EQ(s.sample(kLogits), 4);  // 1.5: the best allowed of 0.5, 0.0, 1.5
  const auto adjusted = s.adjusted_logits(kLogits);
  EXPECT_TRUE(std::isinf(adjusted[1]) && adjusted[1] < 0);
  EXPECT_TRUE(std::isinf(adjusted[6]) && adjusted[6] < 0);
  EXPECT_EQ(adjusted[2], 0.5f);
  EXPECT_EQ(seen->taken, std::vector<int32_t>{4});
  // Sampled draws stay within the allowed set.
  SamplingParams q;
  q.temperature = 1.5f;
  q.seed = 5;
  Sampler t(q);
  t.set_constraint(std::make_unique<SetConstraint>(std::initializer_list<int>{0, 7}));
  for (int i = 0; i < 200; ++i) {
    const int32_t id = t.sample(kLogits);
    EXPECT_TRUE(id == 0 || id == 7) << id;
  }
  EXPECT_THROW(t.accept(3), std::logic_error);
}

// The greedy pick under a mask alone reads the row in place; it must be the pick of the masked copy
// (std::max_element: the first greatest), whatever the mask's shape: empty, full or partial words,
// a vocabulary longer than the mask, ties, and rows with -inf.
TEST(SamplerConstraint, InPlaceGreedyPickEqualsTheMaskedCopysArgmax) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> value(-4.0f, 4.0f);
  for (int trial = 0; trial < 2000; ++trial) {
    const size_t n = 1 + rng() % 300;
    std::vector<float> logits(n);
    for (auto& v : logits) v = trial % 3 == 0 ? std::round(value(rng)) : value(rng);  // many ties
    if (trial % 7 == 0) logits[rng() % n] = -std::numeric_limits<float>::infinity();
    std::vector<uint64_t> mask((n + 63) / 64 - (trial % 11 == 0 && n > 64 ? 1 : 0));
    for (auto& w : mask) {
      switch (rng() % 4) {
        case 0: w = 0; break;
        case 1: w = ~0ull; break;
        default: w = (static_cast<uint64_t>(rng()) << 32) ^ rng(); break;
      }
    }
    std::vector<float> copy = logits;
    apply_constraint_mask(copy, mask);
    const auto expected = static_cast<int32_t>(std::max_element(copy.begin(), copy.end()) - copy.begin());
    ASSERT_EQ(constrained_argmax(logits, mask), expected) << "trial " << trial;
  }
}

// Allows every token but a changing set, advancing by each token taken.
struct ShiftingConstraint : LogitsConstraint {
  size_t n_vocab;
  std::vector<uint64_t> mask;
  int computed = 0;
  int32_t last = 0;
  explicit ShiftingConstraint(size_t n) : n_vocab(n) {}
  std::span<const uint64_t> allowed() override {
    if (mask.empty()) {
      ++computed;
      mask.assign((n_vocab + 63) / 64, 0);
      for (size_t i = 0; i < n_vocab; ++i) {
        if ((i * 7 + static_cast<size_t>(last)) % 5 < 2) mask[i / 64] |= 1ull << (i % 64);
      }
    }
    return mask;
  }
  bool accept(int32_t id) override {
    const auto m = allowed();
    if (!((m[static_cast<size_t>(id) / 64] >> (id % 64)) & 1)) return false;
    last = id;
    mask.clear();
    return true;
  }
};

TEST(SamplerConstraint, PreparedMasksChangeNoChoice) {
  constexpr size_t kVocab = 1000;
  std::mt19937 rng(3);
  std::normal_distribution<float> value(0.0f, 2.0f);
  for (float temperature : {0.0f, 0.8f}) {
    SamplingParams p;
    p.temperature = temperature;
    p.seed = 9;
    Sampler prepared(p), plain(p);
    auto c = std::make_unique<ShiftingConstraint>(kVocab);
    ShiftingConstraint* seen = c.get();
    prepared.set_constraint(std::move(c));
    plain.set_constraint(std::make_unique<ShiftingConstraint>(kVocab));
    for (int step = 0; step < 100; ++step) {
      std::vector<float> logits(kVocab);
      for (auto& v : logits) v = value(rng);
      prepared.prepare();
      const int computed = seen->computed;
      const auto adjusted = plain.adjusted_logits(logits);
      const int32_t want = plain.sample(logits);
      if (temperature == 0.0f) {
        EXPECT_EQ(want, std::max_element(adjusted.begin(), adjusted.end()) - adjusted.begin());
      }
      ASSERT_EQ(prepared.sample(logits), want) << "step " << step;
      EXPECT_EQ(seen->computed, computed);  // sampling used the prepared mask
    }
  }
}

}  // namespace
}  // namespace rbees::sampling
