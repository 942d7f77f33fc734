#include "chat/string_ops.hpp"

#include "chat/template_error.hpp"
#include "chat/utf8.hpp"

#include <algorithm>

namespace rbees::chat::str {
namespace {

bool is_alpha_ascii(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
char upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

}  // namespace

std::string strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right) {
  const std::vector<std::string> u = utf8::units(s);
  std::vector<std::string> set;
  if (chars) set = utf8::units(*chars);
  auto strippable = [&](const std::string& unit) {
    if (!chars)
      return utf8::is_space(utf8::decode_one(unit)) && (unit.size() > 1 || static_cast<unsigned char>(unit[0]) < 0x80);
    return std::find(set.begin(), set.end(), unit) != set.end();
  };
  size_t b = 0, e = u.size();
  if (left) {
    while (b < e && strippable(u[b])) ++b;
  }
  if (right) {
    while (e > b && strippable(u[e - 1])) --e;
  }
  std::string out;
  for (size_t i = b; i < e; ++i) out += u[i];
  return out;
}

std::vector<std::string> split(const std::string& s, const std::optional<std::string>& sep, long long maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw TemplateError("empty separator");
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<long long>(out.size()) < maxsplit) {
      const size_t hit = s.find(*sep, pos);
      if (hit == std::string::npos) break;
      out.push_back(s.substr(pos, hit - pos));
      pos = hit + sep->size();
    }
    out.push_back(s.substr(pos));
    return out;
  }
  const std::vector<std::string> u = utf8::units(s);
  auto space = [](const std::string& unit) { return utf8::is_space(utf8::decode_one(unit)); };
  size_t i = 0;
  while (true) {
    while (i < u.size() && space(u[i])) ++i;
    if (i >= u.size()) break;
    if (maxsplit >= 0 && static_cast<long long>(out.size()) >= maxsplit) {
      std::string rest;
      for (size_t k = i; k < u.size(); ++k) rest += u[k];
      out.push_back(strip(rest, std::nullopt, false, true));
      break;
    }
    std::string word;
    while (i < u.size() && !space(u[i])) word += u[i++];
    out.push_back(std::move(word));
  }
  return out;
}

std::vector<std::string> rsplit(const std::string& s, const std::optional<std::string>& sep, long long maxsplit) {
  if (maxsplit < 0 || !sep) return split(s, sep, maxsplit);
  if (sep->empty()) throw TemplateError("empty separator");
  std::vector<std::string> out;
  size_t end = s.size();
  while (static_cast<long long>(out.size()) < maxsplit) {
    if (end < sep->size()) break;
    const size_t hit = s.rfind(*sep, end - sep->size());
    if (hit == std::string::npos) break;
    out.push_back(s.substr(hit + sep->size(), end - hit - sep->size()));
    end = hit;
  }
  out.push_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

std::string replace(const std::string& s, const std::string& from, const std::string& to, long long count,
                    size_t max_bytes) {
  std::string out;
  long long done = 0;
  auto check = [&] {
    if (out.size() > max_bytes) throw TemplateError("string too long");
  };
  if (from.empty()) {
    for (const std::string& unit : utf8::units(s)) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      out += unit;
      check();
    }
    if (count < 0 || done < count) out += to;
    check();
    return out;
  }
  size_t pos = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += to;
    check();
    pos = hit + from.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  check();
  return out;
}

std::string capitalize(const std::string& s) {
  std::string out = utf8::to_lower_ascii(s);
  if (!out.empty()) out[0] = upper(out[0]);
  return out;
}

std::string title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (char c : s) {
    const bool cased = is_alpha_ascii(c) || static_cast<unsigned char>(c) >= 0x80;
    if (is_alpha_ascii(c)) {
      out += prev_cased ? lower(c) : upper(c);
    } else {
      out += c;
    }
    prev_cased = cased;
  }
  return out;
}

std::string jinja_title(const std::string& s) {
  std::string out;
  bool word_start = true;
  for (char c : s) {
    const bool boundary = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '-' ||
                          c == '(' || c == '{' || c == '[' || c == '<';
    if (boundary) {
      out += c;
      word_start = true;
    } else {
      out += word_start ? upper(c) : lower(c);
      word_start = false;
    }
  }
  return out;
}

std::vector<std::string> splitlines(const std::string& s, bool keepends) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\n' && s[i] != '\r') continue;
    size_t end = i;
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    out.push_back(s.substr(start, (keepends ? i + 1 : end) - start));
    start = i + 1;
  }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace rbees::chat::str
