#pragma once
// Percent-decoding of one URL path segment (RFC 3986): "%2F" becomes "/", and '+' stays '+' (it
// means a space only in form-encoded queries). A '%' not followed by two hex digits is kept as is.

#include <string>
#include <string_view>

namespace rbees::server {

std::string percent_decode(std::string_view segment);

}  // namespace rbees::server
