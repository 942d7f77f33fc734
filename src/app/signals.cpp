#include "app/signals.hpp"

#include <csignal>
#include <thread>

namespace rbees::app {
namespace {
sigset_t termination_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void block_termination_signals() {
  sigset_t set = termination_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A client that goes away mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
}

void watch_termination_signals(std::function<void(int)> on_signal) {
  std::thread([cb = std::move(on_signal)] {
    sigset_t set = termination_set();
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) == 0) cb(sig);
    }
  }).detach();
}

}  // namespace rbees::app
