// The safetensors header parser: length prefix, JSON header, dtypes, shapes and byte ranges.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "fuzz_support.hpp"
#include "loader/file_mapping.hpp"
#include "loader/load_error.hpp"
#include "loader/safetensors.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rbees::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto path = rbees::fuzz::write_input("model.safetensors", data, size);
  try {
    rbees::loader::FileMapping file(path);
    auto entries = rbees::loader::read_safetensors(file);
    // Every accepted entry must lie inside the mapping: touch its first and last byte.
    volatile uint8_t sink = 0;
    for (const auto& e : entries) {
      if (e.nbytes > 0) sink = sink + e.data[0] + e.data[e.nbytes - 1];
    }
  } catch (const rbees::loader::LoadError&) {
  }
  return 0;
}
