#pragma once
// Device residency: where the model's buffers ended up, logged after load (one line per buffer
// type) with a warning when any weight is off the requested device.

#include <ggml-backend.h>

#include <cstddef>
#include <string>
#include <vector>

namespace rbees::core {

struct BufferResidency {
  std::string buffer_type;  // ggml's buffer-type name, e.g. "CPU", "CUDA0"
  std::string device;       // ggml's device name of that buffer type ("" for host buffers)
  std::size_t bytes = 0;
  bool on_requested = false;
};

struct ResidencyReport {
  std::vector<BufferResidency> buffers;
  std::size_t bytes_on_requested = 0;
  std::size_t bytes_elsewhere = 0;
  bool resident() const { return bytes_elsewhere == 0; }
};

// Sums the buffers by buffer type; a buffer counts as on the requested device when its type
// belongs to that device (host buffers count for the CPU device).
ResidencyReport residency(const std::vector<ggml_backend_buffer_t>& buffers, ggml_backend_dev_t requested);
// As above, for a model split across several devices: on any of them counts as requested.
ResidencyReport residency(const std::vector<ggml_backend_buffer_t>& buffers,
                          const std::vector<ggml_backend_dev_t>& requested);

// Logs one line per buffer type, then how many bytes are on the requested device and how many
// elsewhere: a warning when anything is off it, unless that was asked for (`partial`: --gpu-layers
// left layers on the CPU), which is said at info.
void log_residency(const ResidencyReport& report, const std::string& what, const std::string& requested_id,
                   bool partial = false);

}  // namespace rbees::core
