#pragma once
// Python's json.dumps over template values, byte for byte: transformers' `tojson` filter calls
// json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) by default.

#include "chat/value.hpp"

#include <optional>
#include <string>

namespace rbees::chat {

struct JsonDumpOptions {
  std::optional<std::string> indent;  // None: one line; else the text repeated per level
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::optional<std::pair<std::string, std::string>> separators;  // (item, key)
};

std::string json_dump(const Value& v, const JsonDumpOptions& opts);

}  // namespace rbees::chat
