#include "core/device_fault.hpp"

#include <ggml.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/log.hpp"
#include "core/rpc.hpp"

namespace rbees::core {
namespace {

using Clock = std::chrono::steady_clock;

struct Watch {
  std::mutex mu;
  std::condition_variable cv;
  std::string reason;  // the first fault
  bool handled = false;
  FaultHandler handler;
  std::chrono::milliseconds pass_timeout{0};
  bool thread_started = false;
  std::vector<std::string> endpoints;
  // Start of the pass in flight in steady-clock ticks, 0 when none is.
  std::atomic<int64_t> pass_since{0};
};

Watch& watch() {
  static Watch* w = new Watch();  // never destroyed: the watch thread may outlive static destruction
  return *w;
}

bool from_rpc(const char* message) {
  const std::string m = message;
  return m.find("ggml-rpc") != std::string::npos || m.find("RPC") != std::string::npos;
}

void on_ggml_abort(const char* message) {
  if (!from_rpc(message)) {
    log::error("ggml_abort", message);
    return;  // ggml aborts the process
  }
  std::vector<std::string> endpoints;
  {
    std::lock_guard lk(watch().mu);
    endpoints = watch().endpoints;
  }
  // A server's process closes its connections before its listening socket as it exits: a little
  // patience lets the check see which one is gone.
  std::string down;
  for (int attempt = 0; attempt < 5 && down.empty() && !endpoints.empty(); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const std::string& e : rpc_servers_down(endpoints, std::chrono::milliseconds(200))) {
      down += (down.empty() ? "" : ", ") + e;
    }
  }
  report_device_fault("the connection to a remote device broke" +
                      (down.empty() ? std::string() : " (rpc server " + down + " refuses connections)") +
                      " (ggml-rpc: " + message + ")");
  // Returning would abort the process before requests hear why; the handler ends the process.
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

void run_watch() {
  Watch& w = watch();
  std::unique_lock lk(w.mu);
  for (;;) {
    w.cv.wait_for(lk, std::chrono::milliseconds(50));
    if (w.reason.empty() && w.pass_timeout.count() > 0) {
      const int64_t since = w.pass_since.load();
      if (since != 0) {
        const auto running = Clock::now() - Clock::time_point(Clock::duration(since));
        if (running > w.pass_timeout) {
          w.reason = "a pass over the model's devices has run for " +
                     std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(running).count()) +
                     " ms, past the " + std::to_string(w.pass_timeout.count()) +
                     " ms limit (--rpc-timeout): a remote device stopped answering";
        }
      }
    }
    if (w.reason.empty() || w.handled) continue;
    w.handled = true;
    const std::string reason = w.reason;
    FaultHandler handler = w.handler;
    lk.unlock();
    log::error("device_lost", "the model lost a device and cannot run", {{"reason", reason}});
    if (handler) {
      handler(reason);
    } else {
      std::_Exit(kExitDeviceLost);
    }
    lk.lock();
  }
}

void start_thread_locked(Watch& w) {
  if (w.thread_started) return;
  w.thread_started = true;
  std::thread(run_watch).detach();
}

}  // namespace

void install_device_fault_watch() {
  static std::once_flag once;
  std::call_once(once, [] { ggml_set_abort_callback(on_ggml_abort); });
}

void set_remote_endpoints(std::vector<std::string> endpoints) {
  Watch& w = watch();
  std::lock_guard lk(w.mu);
  w.endpoints = std::move(endpoints);
}

void watch_pass_time(std::chrono::milliseconds pass_timeout) {
  Watch& w = watch();
  std::lock_guard lk(w.mu);
  w.pass_timeout = pass_timeout;
  start_thread_locked(w);
}

void set_device_fault_handler(FaultHandler handler) {
  Watch& w = watch();
  std::lock_guard lk(w.mu);
  w.handler = std::move(handler);
}

void report_device_fault(const std::string& reason) {
  Watch& w = watch();
  {
    std::lock_guard lk(w.mu);
    if (!w.reason.empty()) return;
    w.reason = reason;
    start_thread_locked(w);
  }
  w.cv.notify_all();
}

std::string device_fault() {
  Watch& w = watch();
  std::lock_guard lk(w.mu);
  return w.reason;
}

PassMark::PassMark() {
  watch().pass_since.store(Clock::now().time_since_epoch().count());
}

PassMark::~PassMark() {
  watch().pass_since.store(0);
}

}  // namespace rbees::core
