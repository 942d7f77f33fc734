#pragma once
// Losing a remote device. ggml-rpc reports a broken connection by aborting the process from its
// connection thread (GGML_ABORT "Remote RPC server crashed or returned malformed response"), and a
// server that stops answering leaves the computing thread waiting forever: there is no error to
// catch either way. This watch turns both into one fault, reported once:
//  - ggml's abort callback recognises ggml-rpc's aborts, records the fault and parks the ggml thread
//    instead of returning into abort();
//  - the model marks each pass (PassMark); a pass that runs longer than the pass timeout is a fault.
// A handler (the serve command's) then fails the running requests and marks the worker unhealthy;
// the thread that waits on the remote never comes back, so the process exits with
// kExitDeviceLost for its supervisor to restart it. Without a handler (generate, bench) the fault
// is logged and the process exits with that code at once.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace rbees::core {

// The exit code of a process that lost a device its model needs (documented in the README).
constexpr int kExitDeviceLost = 4;

using FaultHandler = std::function<void(const std::string& reason)>;

// Installs ggml's abort callback (once; later calls do nothing). Aborts not from ggml-rpc keep
// ggml's behaviour: the message is logged and the process aborts.
void install_device_fault_watch();

// The remote servers in use ("HOST:PORT"): a broken connection's report names those that refuse
// connections (ggml-rpc's abort message does not say which connection broke).
void set_remote_endpoints(std::vector<std::string> endpoints);

// Starts the thread that reports a pass running past `pass_timeout` (zero: no limit). Once.
void watch_pass_time(std::chrono::milliseconds pass_timeout);

// Who hears of the fault (from the watch's thread); empty: log it and exit with kExitDeviceLost.
void set_device_fault_handler(FaultHandler handler);

// Records a fault by hand (tests, or a check elsewhere); the first fault wins.
void report_device_fault(const std::string& reason);

// The fault's reason, or empty while none happened.
std::string device_fault();

// Marks a pass over the devices: from construction to destruction, the watch times it.
class PassMark {
 public:
  PassMark();
  ~PassMark();
  PassMark(const PassMark&) = delete;
  PassMark& operator=(const PassMark&) = delete;
};

}  // namespace rbees::core
