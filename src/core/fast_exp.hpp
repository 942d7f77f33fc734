#pragma once
// e^x for x <= 0 in single precision, in straight-line arithmetic a compiler vectorises: the
// exponentials of a softmax (a score less its row's greatest) in the CPU attention op and of a
// sampled token's draw over the vocabulary. No float-to-int conversion and no branch: loops over it
// vectorise (GCC 12 at -O3 with the build machine's vector units, -march=native, checked with
// -fopt-info-vec; under plain SSE2 they stay scalar).

#include <bit>
#include <cstdint>

namespace rbees::core {

// exp(x) for x <= 0; exactly 1 at 0, and 0 below -87 (where exp is under 1.7e-38), for -inf and NaN.
// Cephes' expf reduction and polynomial (within 1.2e-7 of std::exp relative to it), with no branches.
inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  const bool under = !(x >= -87.0f);
  x = under ? -87.0f : x;
  // n = round(x * log2(e)) by the float-add trick (1.5 * 2^23 leaves no fraction bits), so that no
  // float-int conversion stands in the way of vectorising; the low bits of t are then n itself.
  constexpr float kRound = 12582912.0f;
  const float t = x * kLog2e + kRound;
  const float fn = t - kRound;
  const int32_t n = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kRound);
  float r = x - fn * kLn2Hi;
  r = r - fn * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = (p * r * r + r + 1.0f) * std::bit_cast<float>(static_cast<uint32_t>(n + 127) << 23);
  return under ? 0.0f : y;
}

}  // namespace rbees::core
