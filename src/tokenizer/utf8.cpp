#include "tokenizer/utf8.hpp"

namespace rbees::tokenizer::utf8 {

size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 1;
}

SequenceCheck check_sequence(std::string_view s) {
  using State = SequenceCheck::State;
  const auto lead = static_cast<unsigned char>(s[0]);
  if (lead < 0x80) return {State::valid, 1};
  const size_t need = sequence_length(lead);
  if (need == 1) return {State::invalid, 1};
  for (size_t i = 1; i < need; ++i) {
    if (i >= s.size()) return {State::incomplete, i};
    const auto c = static_cast<unsigned char>(s[i]);
    // The second byte's range depends on the lead byte (no overlongs, no surrogates, <= U+10FFFF).
    unsigned char lo = 0x80, hi = 0xBF;
    if (i == 1) {
      if (lead == 0xE0) lo = 0xA0;
      if (lead == 0xED) hi = 0x9F;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
    }
    if (c < lo || c > hi) return {State::invalid, i};
  }
  return {State::valid, need};
}

bool is_valid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto r = check_sequence(s.substr(i));
    if (r.state != SequenceCheck::State::valid) return false;
    i += r.length;
  }
  return true;
}

std::string to_valid_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto r = check_sequence(s.substr(i));
    if (r.state == SequenceCheck::State::valid) {
      out.append(s.substr(i, r.length));
    } else {
      out.append(kReplacementChar);
    }
    i += r.length;
  }
  return out;
}

void append_codepoint(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t next_codepoint(std::string_view s, size_t& pos) {
  const auto lead = static_cast<unsigned char>(s[pos]);
  const size_t n = sequence_length(lead);
  if (n == 1 || pos + n > s.size()) {
    ++pos;
    return lead;
  }
  uint32_t cp = n == 2 ? (lead & 0x1F) : n == 3 ? (lead & 0x0F) : (lead & 0x07);
  for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3F);
  pos += n;
  return cp;
}

}  // namespace rbees::tokenizer::utf8
