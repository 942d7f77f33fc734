#include "chat/utf8.hpp"

namespace rbees::chat::utf8 {
namespace {

// Length of the well-formed sequence starting at s[i], or 1 for an invalid byte.
size_t unit_length(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (n <= 1) return 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  }
  return n;
}

}  // namespace

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::vector<std::string> units(std::string_view s) {
  std::vector<std::string> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = unit_length(s, i);
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

size_t length(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); i += unit_length(s, i)) ++count;
  return count;
}

char32_t decode_one(std::string_view u) {
  if (u.empty()) return 0;
  const auto b = static_cast<unsigned char>(u[0]);
  if (u.size() == 1) return b;
  char32_t c = u.size() == 2 ? (b & 0x1F) : u.size() == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < u.size(); ++k) c = (c << 6) | (static_cast<unsigned char>(u[k]) & 0x3F);
  return c;
}

bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string to_lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string to_upper_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

}  // namespace rbees::chat::utf8
