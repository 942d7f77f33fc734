#pragma once
// Time per kind of op over profiled forward passes. While a profile is attached, the scheduler runs
// the graph one op at a time and waits for each (ggml's evaluation callback), so each figure holds a
// launch and a wait besides the op's own work: rank ops by it, do not add it up to a normal pass.

#include <ggml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace rbees::model {

struct OpProfile {
  struct Entry {
    uint64_t count = 0;
    double ms = 0;
  };
  std::map<std::string, Entry> by_op;
  uint64_t passes = 0;

  // The ops by time, most first.
  std::vector<std::pair<std::string, Entry>> ranked() const;

  // The scheduler's evaluation callback (ggml_backend_sched_eval_callback) with this profile as
  // user data.
  static bool callback(ggml_tensor* t, bool ask, void* user_data);

 private:
  std::chrono::steady_clock::time_point started_;
};

// The name an op is counted under: ggml's op name, with matrix products split by what they read
// (model weights, the KV cache, or other activations), since those differ in cost by orders.
std::string op_profile_key(const ggml_tensor* t);

}  // namespace rbees::model
