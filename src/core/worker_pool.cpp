#include "core/worker_pool.hpp"

#include <algorithm>

namespace rbees::core {

WorkerPool::WorkerPool(int n_helpers) {
  for (int i = 0; i < n_helpers; ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

int WorkerPool::helpers_for(unsigned cores) {
  return static_cast<int>(std::min(7u, cores / 2));
}

void WorkerPool::run_items(const std::function<void(size_t)>* fn, size_t n) {
  for (size_t i = next_.fetch_add(1); i < n; i = next_.fetch_add(1)) {
    try {
      (*fn)(i);
    } catch (...) {
      std::lock_guard lk(mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void WorkerPool::work() {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(size_t)>* fn = nullptr;
    size_t n = 0;
    {
      // The loop's function and size are read here, under the lock: a helper that wakes after its
      // loop ended finds every index taken (or the next loop's).
      std::unique_lock lk(mu_);
      wake_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      fn = fn_;
      n = n_;
      ++busy_;
    }
    // A loop stays open while a helper is busy in it, so the indices it takes are that loop's.
    if (fn != nullptr) run_items(fn, n);
    {
      std::lock_guard lk(mu_);
      --busy_;
    }
    done_.notify_one();
  }
}

void WorkerPool::for_each(size_t n, const std::function<void(size_t)>& fn) {
  if (threads_.empty() || n < 2) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard lk(mu_);
    fn_ = &fn;
    n_ = n;
    next_.store(0);
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  run_items(&fn, n);
  std::exception_ptr error;
  {
    // Every index is taken once the caller's share ends; a helper that woke late finds none left.
    std::unique_lock lk(mu_);
    done_.wait(lk, [&] { return busy_ == 0; });
    fn_ = nullptr;
    n_ = 0;
    error = error_;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace rbees::core
