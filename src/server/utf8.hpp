#pragma once
// UTF-8 checks for request text.

#include <cstddef>
#include <optional>
#include <string_view>

namespace rbees::server {

// Number of Unicode code points, or nullopt when `text` is not valid UTF-8 (overlong forms,
// surrogates and values above U+10FFFF are invalid).
std::optional<size_t> count_code_points(std::string_view text);

}  // namespace rbees::server
