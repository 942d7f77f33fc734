#include "core/device.hpp"

#include <ggml-cpu.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>
#include <thread>

namespace rbees::core {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// ggml names Metal's registry "MTL" and the CPU's "CPU"; the rest are the lower-case registry names.
std::string kind_of(ggml_backend_dev_t dev) {
  std::string reg = lower(ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev)));
  if (reg == "mtl" || reg == "metal") return "metal";
  return reg;
}

}  // namespace

std::vector<DeviceInfo> list_devices() {
  std::vector<DeviceInfo> gpus;
  std::vector<DeviceInfo> cpus;
  std::map<std::string, int> per_kind;
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    auto type = ggml_backend_dev_type(dev);
    DeviceInfo d;
    d.dev = dev;
    d.kind = kind_of(dev);
    d.ggml_name = ggml_backend_dev_name(dev);
    d.description = ggml_backend_dev_description(dev);
    d.is_gpu = type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU;
    ggml_backend_dev_memory(dev, &d.memory_free, &d.memory_total);
    if (type == GGML_BACKEND_DEVICE_TYPE_CPU) {
      d.id = "cpu";
      cpus.push_back(d);
    } else if (d.is_gpu) {
      d.id = d.kind + ":" + std::to_string(per_kind[d.kind]++);
      gpus.push_back(d);
    }
    // Accelerator devices (BLAS and the like) are used by the scheduler, not picked by users.
  }
  gpus.insert(gpus.end(), cpus.begin(), cpus.end());
  return gpus;
}

DeviceInfo find_device(const std::string& request) {
  auto devices = list_devices();
  std::string want = lower(request);
  if (want.empty() || want == "auto") {
    if (devices.empty()) throw std::runtime_error("ggml reports no devices");
    return devices.front();
  }
  // "cuda" alone means "cuda:0".
  if (want.find(':') == std::string::npos && want != "cpu") want += ":0";
  for (const auto& d : devices) {
    if (d.id == want) return d;
  }
  std::string have;
  for (const auto& d : devices) have += (have.empty() ? "" : ", ") + d.id;
  throw std::invalid_argument("device '" + request + "' is not available (available: " + have + ")");
}

std::vector<DeviceInfo> find_devices(const std::string& list) {
  std::vector<DeviceInfo> out;
  size_t begin = 0;
  do {
    const size_t comma = std::min(list.find(',', begin), list.size());
    const std::string entry = list.substr(begin, comma - begin);
    if (entry.empty() && list.find(',') != std::string::npos) {
      throw std::invalid_argument("device list '" + list + "' has an empty entry");
    }
    out.push_back(find_device(entry));
    begin = comma + 1;
  } while (begin <= list.size());
  return out;
}

DeviceInfo cpu_device() {
  return find_device("cpu");
}

int default_thread_count() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 4 : static_cast<int>(n);
}

Device::Device(DeviceInfo info, int n_threads) : info_(std::move(info)) {
  backend_.reset(ggml_backend_dev_init(info_.dev, nullptr));
  if (!backend_) throw std::runtime_error("could not initialise ggml backend for device " + info_.id);
  set_n_threads(n_threads > 0 ? n_threads : default_thread_count());
}

void ThreadpoolDeleter::operator()(ggml_threadpool* t) const {
  ggml_threadpool_free(t);
}

void Device::set_n_threads(int n) {
  n_threads_ = n;
  if (!ggml_backend_is_cpu(backend_.get())) return;
  ggml_backend_cpu_set_n_threads(backend_.get(), n);
  ggml_threadpool_params params = ggml_threadpool_params_default(n);
  ThreadpoolPtr pool(ggml_threadpool_new(&params));
  if (!pool) return;  // graphs then start their own threads, as without a pool
  ggml_backend_cpu_set_threadpool(backend_.get(), pool.get());
  threadpool_ = std::move(pool);
}

ggml_backend_buffer_type_t Device::buffer_type() const {
  return ggml_backend_dev_buffer_type(info_.dev);
}

void Device::memory(std::size_t* free, std::size_t* total) const {
  ggml_backend_dev_memory(info_.dev, free, total);
}

}  // namespace rbees::core
