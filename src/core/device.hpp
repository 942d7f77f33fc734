#pragma once
// The device layer: which ggml backends and devices exist, picking one by name ("cpu", "cuda:0",
// "metal:0", "vulkan:0"), and owning the ggml backend that computes on it.

#include <ggml-backend.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace rbees::core {

struct DeviceInfo {
  std::string id;           // "cpu", "cuda:0", ...
  std::string ggml_name;    // ggml's device name, e.g. "CUDA0"
  std::string description;  // e.g. "NVIDIA H100 80GB HBM3"
  std::string kind;         // "cpu", "cuda", "metal", "vulkan", or ggml's registry name in lower case
  bool is_gpu = false;
  bool is_remote = false;  // a device served by an rpc-server (core/rpc.hpp)
  std::string endpoint;    // its HOST:PORT
  std::size_t memory_free = 0;
  std::size_t memory_total = 0;
  ggml_backend_dev_t dev = nullptr;
};

// Every device of every backend compiled in, CPU last.
std::vector<DeviceInfo> list_devices();

// Resolves a --device value; "auto" (or empty) picks the first GPU, else the CPU.
// Throws std::invalid_argument naming the request and what is available.
DeviceInfo find_device(const std::string& request);

// Resolves a comma-separated --device list ("cpu,cpu", "cuda:0,cuda:1"); one entry is find_device.
// The same device may be named twice (two backends on one device: `cpu,cpu` splits a model across
// two CPU backends, which exercises the multi-device path on any machine). Throws
// std::invalid_argument naming the bad entry.
std::vector<DeviceInfo> find_devices(const std::string& list);

struct BackendDeleter {
  void operator()(ggml_backend* b) const { ggml_backend_free(b); }
};
using BackendPtr = std::unique_ptr<ggml_backend, BackendDeleter>;

struct ThreadpoolDeleter {
  void operator()(ggml_threadpool* t) const;
};
using ThreadpoolPtr = std::unique_ptr<ggml_threadpool, ThreadpoolDeleter>;

// A device and the backend that runs graphs on it.
class Device {
 public:
  explicit Device(DeviceInfo info, int n_threads = 0);
  const DeviceInfo& info() const { return info_; }
  ggml_backend_t backend() const { return backend_.get(); }
  ggml_backend_buffer_type_t buffer_type() const;
  bool is_cpu() const { return !info_.is_gpu; }
  int n_threads() const { return n_threads_; }
  void set_n_threads(int n);
  // Memory as ggml reports it now (free changes as buffers are allocated).
  void memory(std::size_t* free, std::size_t* total) const;

 private:
  DeviceInfo info_;
  // CPU only: worker threads that live as long as the device, so a graph does not start and join
  // its threads every pass. Declared before the backend, which uses it, so it is freed after it.
  ThreadpoolPtr threadpool_;
  BackendPtr backend_;
  int n_threads_ = 0;
};

// The CPU device, for host-side helpers and for the layers --gpu-layers leaves on the CPU.
DeviceInfo cpu_device();

// Number of threads used on the CPU when none is given: the physical cores ggml sees.
int default_thread_count();

}  // namespace rbees::core
