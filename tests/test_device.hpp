#pragma once
// The device tests compute on: RBEES_TEST_DEVICE (e.g. "cuda:0") or the CPU. GPU check scripts set it
// to run the same checkpoint and parity tests on a GPU.

#include <cstdlib>
#include <string>

namespace rbees::test {

inline std::string device_id() {
  const char* env = std::getenv("RBEES_TEST_DEVICE");
  return env && *env ? std::string(env) : std::string("cpu");
}

inline bool on_gpu() {
  return device_id() != "cpu";
}

}  // namespace rbees::test
