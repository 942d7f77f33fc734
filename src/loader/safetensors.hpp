#pragma once
// Reads and validates a safetensors file's header: the 8-byte header length, the JSON header, and
// every tensor's dtype, shape and byte range (inside the file, sized to match, not overlapping).
// The data itself stays in the mapping; entries point into it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "loader/file_mapping.hpp"

namespace rbees::loader {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;           // as written: "F32", "BF16", "I64", ...
  std::vector<int64_t> shape;  // outermost first, as in PyTorch
  const uint8_t* data = nullptr;
  std::size_t nbytes = 0;
};

// The largest header accepted; real ones are a few hundred kilobytes even for large models.
inline constexpr uint64_t kMaxSafetensorsHeader = 100ull * 1024 * 1024;

// Entries in header order. Throws LoadError naming the file (and tensor) at the first problem.
std::vector<SafetensorsEntry> read_safetensors(const FileMapping& file);

// Bytes per element of a safetensors dtype; 0 when unknown.
std::size_t safetensors_dtype_size(const std::string& dtype);

}  // namespace rbees::loader
