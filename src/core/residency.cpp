#include "core/residency.hpp"

#include "core/log.hpp"

#include <algorithm>
#include <map>

namespace rbees::core {

ResidencyReport residency(const std::vector<ggml_backend_buffer_t>& buffers, ggml_backend_dev_t requested) {
  return residency(buffers, std::vector<ggml_backend_dev_t>{requested});
}

ResidencyReport residency(const std::vector<ggml_backend_buffer_t>& buffers,
                          const std::vector<ggml_backend_dev_t>& requested) {
  std::map<std::string, BufferResidency> by_type;
  bool requested_is_cpu = false;
  for (auto* d : requested) requested_is_cpu |= ggml_backend_dev_type(d) == GGML_BACKEND_DEVICE_TYPE_CPU;
  ResidencyReport report;
  for (auto* buf : buffers) {
    if (buf == nullptr) continue;
    auto* buft = ggml_backend_buffer_get_type(buf);
    ggml_backend_dev_t dev = ggml_backend_buft_get_device(buft);
    std::string name = ggml_backend_buft_name(buft);
    auto& entry = by_type[name];
    entry.buffer_type = name;
    entry.device = dev ? ggml_backend_dev_name(dev) : "";
    entry.on_requested = std::find(requested.begin(), requested.end(), dev) != requested.end() ||
                         (requested_is_cpu && ggml_backend_buft_is_host(buft));
    std::size_t size = ggml_backend_buffer_get_size(buf);
    entry.bytes += size;
    (entry.on_requested ? report.bytes_on_requested : report.bytes_elsewhere) += size;
  }
  for (auto& [_, e] : by_type) report.buffers.push_back(e);
  return report;
}

void log_residency(const ResidencyReport& report, const std::string& what, const std::string& requested_id,
                   bool partial) {
  for (const auto& b : report.buffers) {
    log::info(
        "residency", "",
        {{"what", what}, {"buffer_type", b.buffer_type}, {"bytes", b.bytes}, {"on_requested_device", b.on_requested}});
  }
  if (partial) {
    log::info("residency", "partial offload: part of the model stays on the CPU as asked",
              {{"what", what},
               {"device", requested_id},
               {"bytes_on_device", report.bytes_on_requested},
               {"bytes_on_cpu", report.bytes_elsewhere}});
  } else if (!report.resident()) {
    log::warn("residency", "part of the model is not on the requested device",
              {{"what", what}, {"device", requested_id}, {"bytes_elsewhere", report.bytes_elsewhere}});
  }
}

}  // namespace rbees::core
