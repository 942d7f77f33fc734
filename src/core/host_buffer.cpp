#include "core/host_buffer.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace rbees::core {

HostBuffer::~HostBuffer() {
  if (buffer_ != nullptr) ggml_backend_buffer_free(buffer_);
}

void* HostBuffer::reserve(std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 1);
  if (buffer_ != nullptr && ggml_backend_buffer_get_size(buffer_) >= bytes)
    return ggml_backend_buffer_get_base(buffer_);
  if (buffer_ != nullptr) ggml_backend_buffer_free(buffer_);
  buffer_ = nullptr;
  // Whole MiBs, so that slowly rising sizes (masks a cell longer each step) reallocate rarely.
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  const std::size_t size = (bytes + kMiB - 1) / kMiB * kMiB;
  ggml_backend_buffer_type_t buft = dev_ != nullptr ? ggml_backend_dev_host_buffer_type(dev_) : nullptr;
  if (buft != nullptr) buffer_ = ggml_backend_buft_alloc_buffer(buft, size);
  if (buffer_ == nullptr) buffer_ = ggml_backend_buft_alloc_buffer(ggml_backend_cpu_buffer_type(), size);
  if (buffer_ == nullptr)
    throw std::runtime_error("could not allocate " + std::to_string(size) + " bytes of host memory");
  return ggml_backend_buffer_get_base(buffer_);
}

}  // namespace rbees::core
