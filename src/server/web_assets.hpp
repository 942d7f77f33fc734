#pragma once
// The chat page's files (src/server/web/), built into the binary: CMake turns each into a byte
// array of a generated source (cmake/embed_web.cmake), so nothing is read from disk or fetched.

#include <span>
#include <string_view>

namespace rbees::server {

struct WebAsset {
  std::string_view path;  // "/" for index.html, "/<name>" for the others
  std::string_view content_type;
  std::string_view body;
};

std::span<const WebAsset> web_assets();

// The asset served at `path`, or nullptr.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace rbees::server
