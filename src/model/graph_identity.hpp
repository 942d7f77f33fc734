#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

struct ggml_context;

namespace rbees::model {

// Memory for the nodes that open a graph's device segments, kept apart for each width of the step.
//
// ggml's CUDA backend keys its CUDA graphs by the address of a graph's first node, and when the graph
// under one key changes it updates the instantiated CUDA graph in place (cudaGraphExecUpdate). Such an
// update does not carry a kernel's thread-block-cluster dimensions: where cuBLAS picks a cluster kernel
// for a product at one width and another kernel at the next, the updated CUDA graph launches the new
// kernel with the old dimensions and the device stops with "an illegal instruction was encountered"
// (seen on an H200 with the stacked Q/K/V and gate/up products, at the first 24-token decode step after
// 32-token ones). A first node at an address of its own per width means graphs of one width update one
// another's CUDA graph, and graphs of different widths never do. It also keeps each width's CUDA graph
// ready when steps go back and forth between widths.
class GraphIdentity {
 public:
  // Memory not used for this long is given back. ggml drops a CUDA graph unused for 10 s, sweeping every
  // 5 s, so an address given back here and handed out again is no longer the key of any CUDA graph.
  static constexpr std::chrono::seconds kIdle{60};

  // `n_tensors`: the most tensor headers a graph creates in the context that begin() returns;
  // `idle`: how long another width's memory is kept unused (kIdle).
  explicit GraphIdentity(size_t n_tensors, std::chrono::steady_clock::duration idle = kIdle);
  ~GraphIdentity();
  GraphIdentity(const GraphIdentity&) = delete;
  GraphIdentity& operator=(const GraphIdentity&) = delete;

  // A fresh context (no data, headers only) over the memory kept for `width`, so that its first tensors
  // land where the last graph of that width had them. The context handed out before is freed: the graph
  // that used it is being replaced.
  ggml_context* begin(uint64_t width);

  size_t widths() const { return slots_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Slot {
    std::vector<uint8_t> memory;
    Clock::time_point last_used;
  };
  size_t bytes_;
  Clock::duration idle_;
  std::map<uint64_t, Slot> slots_;
  ggml_context* ctx_ = nullptr;
};

}  // namespace rbees::model
