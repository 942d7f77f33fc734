// core::WorkerPool: every index of every loop runs exactly once, on several threads, across many
// loops in a row (a helper that wakes late must not take an index of the next loop), and a call's
// exception reaches the caller after the rest of the loop has run.
#include "core/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace rbees::core {
namespace {

TEST(WorkerPool, RunsEveryIndexOnceOverManyLoops) {
  WorkerPool pool(3);
  EXPECT_EQ(pool.n_helpers(), 3);
  std::set<std::thread::id> threads;
  std::mutex mu;
  for (size_t loop = 0; loop < 2000; ++loop) {
    const size_t n = loop % 37;
    std::vector<std::atomic<int>> hits(n);
    pool.for_each(n, [&](size_t i) {
      hits[i].fetch_add(1);
      if (loop % 100 == 0) {
        std::lock_guard lk(mu);
        threads.insert(std::this_thread::get_id());
      }
      // Some work, so that the helpers get a share.
      volatile double x = 0;
      for (int k = 0; k < 2000; ++k) x = x + k;
    });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "loop " << loop << ", index " << i;
  }
  EXPECT_GT(threads.size(), 1u);
}

TEST(WorkerPool, RethrowsTheFirstErrorAfterTheLoop) {
  WorkerPool pool(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.for_each(50,
                             [&](size_t i) {
                               ran.fetch_add(1);
                               if (i == 7) throw std::runtime_error("row 7");
                             }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 50);
  // The pool goes on.
  std::atomic<int> again{0};
  pool.for_each(10, [&](size_t) { again.fetch_add(1); });
  EXPECT_EQ(again.load(), 10);
}

TEST(WorkerPool, WithoutHelpersRunsOnTheCaller) {
  WorkerPool pool(0);
  EXPECT_EQ(pool.n_helpers(), 0);
  std::vector<size_t> order;
  const auto caller = std::this_thread::get_id();
  pool.for_each(5, [&](size_t i) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(WorkerPool::helpers_for(2), 1);
  EXPECT_EQ(WorkerPool::helpers_for(16), 7);
  EXPECT_EQ(WorkerPool::helpers_for(1), 0);
}

}  // namespace
}  // namespace rbees::core
