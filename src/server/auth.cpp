#include "server/auth.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace rbees::server {

bool constant_time_equals(std::string_view a, std::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  // volatile keeps the compiler from turning the loop into an early-exit comparison.
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string read_api_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the API key file " + path);
  std::ostringstream s;
  s << in.rdbuf();
  std::string key = s.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) {
    key.pop_back();
  }
  if (key.empty()) throw std::runtime_error("the API key file " + path + " is empty");
  return key;
}

bool ApiKeyCheck::allows(std::string_view authorization) const {
  if (!key_) return true;
  constexpr std::string_view kScheme = "Bearer ";
  // The scheme is not secret; only the key is compared in constant time.
  if (authorization.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return false;
    }
  }
  return constant_time_equals(authorization.substr(kScheme.size()), *key_);
}

}  // namespace rbees::server
