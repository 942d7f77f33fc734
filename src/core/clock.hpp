#pragma once
// The monotonic clock the engine times its phases with, and milliseconds between two of its points.

#include <chrono>

namespace rbees::core {

using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

inline double ms_since(Clock::time_point t) {
  return ms_between(t, Clock::now());
}

}  // namespace rbees::core
