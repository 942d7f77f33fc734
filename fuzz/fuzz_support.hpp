#pragma once
// What every target shares: quiet logs (a loader logs each model it accepts; ggml's GGUF reader logs
// each reason it refuses a file) and, since the loaders read files, writing each input to a file. The
// file lives in a per-process folder under /dev/shm (else the temp folder) so parallel jobs don't
// collide.

#include <ggml.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/log.hpp"

namespace rbees::fuzz {

inline void quiet_logs() {
  rbees::log::configure(rbees::log::Level::off, rbees::log::Format::text);
  ggml_log_set([](ggml_log_level, const char*, void*) {}, nullptr);
}

inline std::filesystem::path scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path base =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    auto d = base / ("rbees-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes data to scratch_dir()/name and returns its path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  auto path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path.string();
}

}  // namespace rbees::fuzz
