#include "tokenizer/byte_level.hpp"

#include "tokenizer/utf8.hpp"

#include <array>
#include <cstdint>
#include <unordered_map>

namespace rbees::tokenizer::byte_level {
namespace {

struct Tables {
  std::array<std::string, 256> byte_to_char;
  std::unordered_map<uint32_t, unsigned char> char_to_byte;

  Tables() {
    // Printable Latin-1 bytes stand for themselves; the rest are shifted to U+0100 upwards.
    auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      uint32_t cp = printable(b) ? static_cast<uint32_t>(b) : next++;
      utf8::append_codepoint(byte_to_char[b], cp);
      char_to_byte[cp] = static_cast<unsigned char>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

std::string encode(std::string_view text) {
  const auto& t = tables();
  std::string out;
  out.reserve(text.size() * 2);
  for (unsigned char c : text) out += t.byte_to_char[c];
  return out;
}

std::optional<std::string> decode(std::string_view token) {
  const auto& t = tables();
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    uint32_t cp = utf8::next_codepoint(token, pos);
    auto it = t.char_to_byte.find(cp);
    if (it == t.char_to_byte.end()) return std::nullopt;
    out.push_back(static_cast<char>(it->second));
  }
  return out;
}

const std::string& char_for_byte(unsigned char b) {
  return tables().byte_to_char[b];
}

}  // namespace rbees::tokenizer::byte_level
