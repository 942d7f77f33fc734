#pragma once
// A few threads that share a loop's iterations with the calling thread: for per-row host work that
// sits between two device steps (drawing each sampling sequence's token from its logits row), where
// the device waits for the slowest part of the loop.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rbees::core {

class WorkerPool {
 public:
  // n_helpers threads beside the caller; 0: the caller alone, no thread started.
  explicit WorkerPool(int n_helpers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Calls fn(i) once for every i in [0, n), on the helpers and the caller, in no set order; returns
  // when every call has returned. The first exception a call throws is rethrown here (the other
  // iterations still run). Not reentrant: one loop at a time.
  void for_each(size_t n, const std::function<void(size_t)>& fn);
  int n_helpers() const { return static_cast<int>(threads_.size()); }
  // The helpers a host of `cores` cores can spare for such loops: half of them, at most 7.
  static int helpers_for(unsigned cores);

 private:
  void work();
  void run_items(const std::function<void(size_t)>* fn, size_t n);

  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  int busy_ = 0;  // helpers inside the current loop
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t n_ = 0;
  std::atomic<size_t> next_{0};
  std::exception_ptr error_;
};

}  // namespace rbees::core
