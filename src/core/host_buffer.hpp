#pragma once
// Host memory that a device copies to and from at full speed: a buffer of the device's host buffer
// type (pinned memory on a GPU; plain CPU memory where the device has none), grown on demand.
// Staging through it spares the driver a bounce through its own pinned buffer on every copy.

#include <ggml-backend.h>

#include <cstddef>

namespace rbees::core {

class HostBuffer {
 public:
  explicit HostBuffer(ggml_backend_dev_t dev) : dev_(dev) {}
  ~HostBuffer();
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  // At least `bytes` bytes; the contents are kept only while no larger size is asked for.
  void* reserve(std::size_t bytes);
  template <class T>
  T* reserve_as(std::size_t n) {
    return static_cast<T*>(reserve(n * sizeof(T)));
  }

 private:
  ggml_backend_dev_t dev_;
  ggml_backend_buffer_t buffer_ = nullptr;
};

}  // namespace rbees::core
