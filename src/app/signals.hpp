#pragma once
// SIGINT/SIGTERM handling: the signals are blocked in every thread and taken by one watcher thread,
// so the rest of the program sees them as an ordinary event instead of async interruptions.

#include <functional>

namespace rbees::app {

// Blocks SIGINT and SIGTERM in the calling thread (call before starting any other thread).
void block_termination_signals();

// Waits in a background thread for SIGINT/SIGTERM and calls on_signal(signo) for each one.
void watch_termination_signals(std::function<void(int)> on_signal);

}  // namespace rbees::app
