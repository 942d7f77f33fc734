#include "sampling/row_weights.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace rbees::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(ExpNonpositive, WithinFourUlpOfExpAndZeroBelowItsRange) {
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  double worst = 0.0;
  for (float x = 0.0f; x >= -87.0f; x -= 0.00137f) {
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(exp_nonpositive(x) - want) / want);
  }
  EXPECT_LT(worst, 4 * std::numeric_limits<float>::epsilon()) << "largest relative error";
  EXPECT_GT(exp_nonpositive(-86.99f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-87.01f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-1e30f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-kInf), 0.0f);
  EXPECT_EQ(exp_nonpositive(std::numeric_limits<float>::quiet_NaN()), 0.0f);
}

// A row of the shape real logits have: a few high values over a broad low mass, some banned.
std::vector<float> logits_row(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> row(n);
  for (float& l : row) l = normal(rng);
  for (size_t i = 7; i < n; i += 97) row[i] = -kInf;
  return row;
}

// The draw a double-precision reference makes: the first index whose running sum passes u * total.
int32_t reference_draw(const std::vector<double>& w, double u) {
  double total = 0.0;
  for (double x : w) total += x;
  double cumulative = 0.0;
  for (size_t i = 0; i < w.size(); ++i) {
    cumulative += w[i];
    if (u * total < cumulative) return static_cast<int32_t>(i);
  }
  return -1;
}

TEST(RowWeights, WeightsAndTotalAreTheRowsExponentials) {
  for (size_t n : {1u, 15u, 16u, 255u, 256u, 1000u, 32000u, 32001u}) {
    const std::vector<float> row = logits_row(n, static_cast<uint32_t>(n));
    RowWeights w;
    ASSERT_EQ(w.compute(row, 0.7f), n > 7 || row[0] > -kInf) << n;
    float m = -kInf;
    for (float l : row) m = std::max(m, l);
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double x = (static_cast<double>(row[i]) - m) / 0.7;
      const double want = std::exp(x);
      if (want == 0.0) {
        ASSERT_EQ(w.weights()[i], 0.0f) << "banned token " << i;
        continue;
      }
      // The argument is rounded to single precision first: exp's relative error grows with |x|.
      ASSERT_NEAR(w.weights()[i], want, 2.5e-7 * (2.0 - x) * want + 1e-37) << "n " << n << " token " << i;
      total += want;
    }
    EXPECT_NEAR(w.total(), total, 1e-6 * total) << n;
  }
}

TEST(RowWeights, DrawsAreTheReferenceDrawsAndNeverABannedToken) {
  const std::vector<float> row = logits_row(32000, 11);
  RowWeights w;
  ASSERT_TRUE(w.compute(row, 1.0f));
  std::vector<double> ref(row.size());
  float m = -kInf;
  for (float l : row) m = std::max(m, l);
  for (size_t i = 0; i < row.size(); ++i) ref[i] = std::exp(static_cast<double>(row[i]) - m);

  std::mt19937_64 rng(3);
  int differ = 0;
  int32_t last = -1;
  for (int k = 0; k <= 20000; ++k) {
    const double u = k / 20001.0;  // increasing: the drawn index never goes down
    const int32_t got = w.draw(u);
    ASSERT_GE(got, last) << "u " << u;
    last = got;
    ASSERT_TRUE(std::isfinite(row[static_cast<size_t>(got)])) << "banned token " << got << " drawn";
    const int32_t want = reference_draw(ref, u);
    // The weights differ from the reference's in their last bits: a draw may only move to a neighbour
    // when u falls on a boundary between two tokens.
    if (got != want) {
      ++differ;
      EXPECT_LE(std::abs(got - want), 8) << "u " << u;
    }
  }
  EXPECT_LE(differ, 20) << "draws away from the reference's, of 20,001";
  EXPECT_EQ(w.draw(0.0), 0);
  const int32_t top = w.draw(std::nextafter(1.0, 0.0));
  EXPECT_TRUE(std::isfinite(row[static_cast<size_t>(top)]));
  EXPECT_GE(top, 31990);
}

TEST(RowWeights, NoWeightToDrawFromIsReported) {
  RowWeights w;
  EXPECT_FALSE(w.compute(std::vector<float>(40, -kInf), 1.0f));
  std::vector<float> row(40, 0.0f);
  row[3] = kInf;
  EXPECT_FALSE(w.compute(row, 1.0f));
  EXPECT_FALSE(w.compute(std::vector<float>{}, 1.0f));
  row = std::vector<float>(40, -kInf);
  row[21] = -3.0f;
  ASSERT_TRUE(w.compute(row, 0.5f));
  for (double u : {0.0, 0.3, 0.999999}) EXPECT_EQ(w.draw(u), 21);
}

TEST(RowExtremes, MaxAndFiniteMinAreTheScalarOnesAtEveryLengthAndWithSpecialValues) {
  // Lengths around the vector widths (the tails are scalar), and -inf, +inf and NaN anywhere.
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 5.0f);
  for (size_t n = 0; n <= 70; ++n) {
    for (int kind = 0; kind < 4; ++kind) {
      std::vector<float> row(n);
      for (size_t i = 0; i < n; ++i) {
        row[i] = normal(rng);
        if (kind == 1 && i % 3 == 0) row[i] = -kInf;
        if (kind == 2 && i % 5 == 1) row[i] = std::nanf("");
        if (kind == 3) row[i] = -kInf;
      }
      float hi = -kInf, lo = kInf;
      for (float x : row) {
        hi = x > hi ? x : hi;
        lo = (x < lo && x > -kInf) ? x : lo;
      }
      EXPECT_EQ(row_max(row), hi) << "n " << n << " kind " << kind;
      EXPECT_EQ(row_min_finite(row), lo) << "n " << n << " kind " << kind;
      if (n > 0 && kind != 3) {
        std::vector<float> with_inf = row;
        with_inf[n / 2] = kInf;
        EXPECT_EQ(row_max(with_inf), kInf);
      }
    }
  }
}

}  // namespace
}  // namespace rbees::sampling
