#include "loader/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "loader/load_error.hpp"

namespace rbees::loader {

std::size_t safetensors_dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  return 0;
}

namespace {

struct Range {
  uint64_t begin, end;
  std::size_t index;
};

std::string tensor_msg(const std::string& name, const std::string& what) {
  return "tensor '" + name + "': " + what;
}

}  // namespace

std::vector<SafetensorsEntry> read_safetensors(const FileMapping& file) {
  const std::string& path = file.path();
  const uint64_t file_size = file.size();
  if (file_size < 8) throw LoadError(path, "safetensors file too short for its 8-byte header length");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file.data(), 8);  // little-endian on every platform we build for
  if (header_len > kMaxSafetensorsHeader)
    throw LoadError(path, "safetensors header length " + std::to_string(header_len) + " exceeds the " +
                              std::to_string(kMaxSafetensorsHeader) + "-byte limit (corrupt file?)");
  if (header_len > file_size - 8)
    throw LoadError(path, "safetensors header length " + std::to_string(header_len) +
                              " runs past the end of the file (file size " + std::to_string(file_size) +
                              "; truncated?)");

  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(file.data() + 8, file.data() + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    // Not only parse_error: a number too large for a double (1e400) is an out_of_range.
    throw LoadError(path, std::string("safetensors header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw LoadError(path, "safetensors header is not a JSON object");

  const uint8_t* data_start = file.data() + 8 + header_len;
  const uint64_t data_size = file_size - 8 - header_len;
  std::vector<SafetensorsEntry> entries;
  std::vector<Range> ranges;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    if (!info.is_object()) throw LoadError(path, tensor_msg(name, "header entry is not an object"));
    auto dtype_it = info.find("dtype");
    auto shape_it = info.find("shape");
    auto off_it = info.find("data_offsets");
    if (dtype_it == info.end() || !dtype_it->is_string())
      throw LoadError(path, tensor_msg(name, "missing or non-string 'dtype'"));
    if (shape_it == info.end() || !shape_it->is_array())
      throw LoadError(path, tensor_msg(name, "missing or non-array 'shape'"));
    if (off_it == info.end() || !off_it->is_array() || off_it->size() != 2 || !(*off_it)[0].is_number_unsigned() ||
        !(*off_it)[1].is_number_unsigned())
      throw LoadError(path, tensor_msg(name, "'data_offsets' must be two non-negative integers"));

    SafetensorsEntry e;
    e.name = name;
    e.dtype = dtype_it->get<std::string>();
    std::size_t elem = safetensors_dtype_size(e.dtype);
    if (elem == 0) throw LoadError(path, tensor_msg(name, "unknown dtype '" + e.dtype + "'"));
    uint64_t count = 1;
    for (const auto& d : *shape_it) {
      if (!d.is_number_unsigned()) throw LoadError(path, tensor_msg(name, "shape has a non-integer or negative dim"));
      uint64_t v = d.get<uint64_t>();
      if (v != 0 && count > std::numeric_limits<uint64_t>::max() / elem / v)
        throw LoadError(path, tensor_msg(name, "shape is absurdly large"));
      count *= v;
      e.shape.push_back(static_cast<int64_t>(v));
    }
    uint64_t begin = (*off_it)[0].get<uint64_t>();
    uint64_t end = (*off_it)[1].get<uint64_t>();
    if (begin > end)
      throw LoadError(path, tensor_msg(name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                                                 "] are reversed"));
    if (end > data_size)
      throw LoadError(path, tensor_msg(name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                                                 "] run past the end of the data (" + std::to_string(data_size) +
                                                 " bytes; truncated file?)"));
    if (end - begin != count * elem)
      throw LoadError(
          path, tensor_msg(name, "holds " + std::to_string(end - begin) + " bytes but its shape and dtype " + e.dtype +
                                     " need " + std::to_string(count * elem)));
    e.data = data_start + begin;
    e.nbytes = static_cast<std::size_t>(end - begin);
    ranges.push_back({begin, end, entries.size()});
    entries.push_back(std::move(e));
  }

  // Empty tensors occupy no bytes and cannot overlap anything.
  std::erase_if(ranges, [](const Range& r) { return r.end == r.begin; });
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  std::size_t reach = 0;  // the range that extends furthest so far
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[reach].end)
      throw LoadError(path, tensor_msg(entries[ranges[i].index].name,
                                       "data range overlaps tensor '" + entries[ranges[reach].index].name + "'"));
    if (ranges[i].end > ranges[reach].end) reach = i;
  }
  return entries;
}

}  // namespace rbees::loader
