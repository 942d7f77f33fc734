#include "grammar/regex_to_gbnf.hpp"

#include "grammar/gbnf_ast.hpp"
#include "grammar/grammar_error.hpp"
#include "grammar/utf8_ranges.hpp"

#include <cctype>
#include <cstdio>
#include <vector>

namespace rbees::grammar {

namespace {

constexpr uint32_t kMax = 0x10FFFF;

std::string hex_escape(uint32_t cp) {
  char buf[16];
  if (cp <= 0xFF) {
    std::snprintf(buf, sizeof buf, "\\x%02X", cp);
  } else if (cp <= 0xFFFF) {
    std::snprintf(buf, sizeof buf, "\\u%04X", cp);
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08X", cp);
  }
  return buf;
}

// How JSON writes one character inside a string, as a GBNF literal.
std::string json_encoded(uint32_t cp) {
  switch (cp) {
    case '"': return "\"\\\\\\\"\"";  // the two characters \"
    case '\\': return "\"\\\\\\\\\"";
    case '\n': return "\"\\\\n\"";
    case '\r': return "\"\\\\r\"";
    case '\t': return "\"\\\\t\"";
    case '\b': return "\"\\\\b\"";
    case '\f': return "\"\\\\f\"";
    default: break;
  }
  if (cp < 0x20) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\"\\\\u%04x\"", cp);
    return buf;
  }
  return "\"" + hex_escape(cp) + "\"";
}

// A set of code points as GBNF over JSON string content: the plain characters as one class, and the
// ones JSON escapes as their escaped forms.
std::string class_expr(std::vector<CodepointRange> ranges, bool negated) {
  const auto norm = normalize_ranges(std::move(ranges), negated);
  std::vector<std::string> alts;
  std::string plain;
  for (auto r : norm) {
    uint32_t lo = r.lo;
    while (lo <= r.hi) {
      if (lo < 0x20 || lo == '"' || lo == '\\') {
        alts.push_back(json_encoded(lo));
        ++lo;
        continue;
      }
      uint32_t hi = r.hi;
      if (lo < '"' && hi >= '"')
        hi = '"' - 1;
      else if (lo < '\\' && hi >= '\\')
        hi = '\\' - 1;
      plain += hex_escape(lo);
      if (hi > lo) plain += "-" + hex_escape(hi);
      lo = hi + 1;
    }
  }
  if (!plain.empty()) alts.insert(alts.begin(), "[" + plain + "]");
  if (alts.empty()) throw GrammarError("pattern: a character class that matches nothing");
  if (alts.size() == 1) return alts[0];
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
  return out + ")";
}

class RegexParser {
 public:
  RegexParser(std::string_view p, const std::string& any) : p_(p), any_(any) {}

  std::string parse() {
    bool start_anchor = false, end_anchor = false;
    if (!p_.empty() && p_[0] == '^') {
      start_anchor = true;
      ++pos_;
    }
    std::string body = alternatives();
    if (pos_ < p_.size() && p_[pos_] == '$' && pos_ + 1 == p_.size()) {
      end_anchor = true;
      ++pos_;
    }
    if (pos_ != p_.size()) fail(std::string("unsupported '") + p_[pos_] + "'");
    std::string out = "(";
    if (!start_anchor) out += any_ + "* ";
    out += "(" + body + ")";
    if (!end_anchor) out += " " + any_ + "*";
    return out + ")";
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw GrammarError("pattern: " + what + " at offset " + std::to_string(pos_) + " of '" + std::string(p_) + "'");
  }

  bool at_end_anchor() const { return pos_ + 1 == p_.size() && p_[pos_] == '$'; }

  std::string alternatives() {
    std::string out = sequence();
    while (pos_ < p_.size() && p_[pos_] == '|') {
      ++pos_;
      out += " | " + sequence();
    }
    return out;
  }

  std::string sequence() {
    std::string out;
    while (pos_ < p_.size() && p_[pos_] != '|' && p_[pos_] != ')' && !at_end_anchor()) {
      std::string atom_expr = atom();
      atom_expr = quantified(atom_expr);
      out += (out.empty() ? "" : " ") + atom_expr;
    }
    return out.empty() ? "\"\"" : out;
  }

  uint32_t utf8_char() {
    const auto c = static_cast<unsigned char>(p_[pos_]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || pos_ + static_cast<size_t>(len) > p_.size()) fail("invalid UTF-8");
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < len; ++i)
      cp = (cp << 6) | (static_cast<unsigned char>(p_[pos_ + static_cast<size_t>(i)]) & 0x3F);
    pos_ += static_cast<size_t>(len);
    return cp;
  }

  uint32_t hex(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) {
      if (pos_ >= p_.size() || !std::isxdigit(static_cast<unsigned char>(p_[pos_]))) fail("bad hexadecimal escape");
      const char c = p_[pos_++];
      v = v * 16 + static_cast<uint32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
  }

  // An escape after the backslash: either one code point or a predefined class (ranges, negated).
  bool escape(uint32_t& cp, std::vector<CodepointRange>& cls, bool& negated) {
    if (pos_ >= p_.size()) fail("pattern ends in a backslash");
    const char c = p_[pos_++];
    negated = false;
    switch (c) {
      case 'd': cls = {{'0', '9'}}; return false;
      case 'D':
        cls = {{'0', '9'}};
        negated = true;
        return false;
      case 'w': cls = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}; return false;
      case 'W':
        cls = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
        negated = true;
        return false;
      case 's': cls = {{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x2028, 0x2029}, {0xFEFF, 0xFEFF}}; return false;
      case 'S':
        cls = {{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x2028, 0x2029}, {0xFEFF, 0xFEFF}};
        negated = true;
        return false;
      case 't': cp = '\t'; return true;
      case 'n': cp = '\n'; return true;
      case 'r': cp = '\r'; return true;
      case 'f': cp = '\f'; return true;
      case 'v': cp = '\v'; return true;
      case '0': cp = 0; return true;
      case 'x': cp = hex(2); return true;
      case 'u': cp = hex(4); return true;
      default: break;
    }
    if (std::isalnum(static_cast<unsigned char>(c))) fail(std::string("unsupported escape \\") + c);
    --pos_;
    cp = utf8_char();
    return true;
  }

  std::string atom() {
    const char c = p_[pos_];
    if (c == '(') {
      ++pos_;
      if (p_.substr(pos_, 2) == "?:") {
        pos_ += 2;
      } else if (pos_ < p_.size() && p_[pos_] == '?') {
        fail("unsupported group (lookaround or named group)");
      }
      std::string inner = alternatives();
      if (pos_ >= p_.size() || p_[pos_] != ')') fail("expected )");
      ++pos_;
      return "(" + inner + ")";
    }
    if (c == '[') return char_class();
    if (c == '.') {
      ++pos_;
      return class_expr({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}, true);
    }
    if (c == '\\') {
      ++pos_;
      uint32_t cp = 0;
      std::vector<CodepointRange> cls;
      bool neg = false;
      if (escape(cp, cls, neg)) return json_encoded(cp);
      return class_expr(cls, neg);
    }
    if (c == '^' || c == '$') fail("anchors are supported only at the ends of the pattern");
    if (c == '*' || c == '+' || c == '?' || c == '{') fail("quantifier without an operand");
    return json_encoded(utf8_char());
  }

  std::string char_class() {
    ++pos_;
    bool negated = false;
    if (pos_ < p_.size() && p_[pos_] == '^') {
      negated = true;
      ++pos_;
    }
    std::vector<CodepointRange> ranges;
    bool first = true;
    while (pos_ < p_.size() && (p_[pos_] != ']' || first)) {
      first = false;
      uint32_t lo;
      if (p_[pos_] == '\\') {
        ++pos_;
        std::vector<CodepointRange> cls;
        bool neg = false;
        if (!escape(lo, cls, neg)) {
          if (neg) {
            cls = normalize_ranges(cls, true);
          }
          ranges.insert(ranges.end(), cls.begin(), cls.end());
          continue;
        }
      } else {
        lo = utf8_char();
      }
      uint32_t hi = lo;
      if (pos_ + 1 < p_.size() && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
        ++pos_;
        if (p_[pos_] == '\\') {
          ++pos_;
          std::vector<CodepointRange> cls;
          bool neg = false;
          if (!escape(hi, cls, neg)) fail("a class escape cannot end a range");
        } else {
          hi = utf8_char();
        }
        if (hi < lo) fail("character range out of order");
      }
      ranges.push_back({lo, hi});
    }
    if (pos_ >= p_.size()) fail("unterminated character class");
    ++pos_;
    if (ranges.empty()) {
      if (negated) return class_expr({{0, kMax}}, false);
      fail("empty character class");
    }
    return class_expr(ranges, negated);
  }

  int read_int() {
    int v = 0;
    const size_t start = pos_;
    while (pos_ < p_.size() && std::isdigit(static_cast<unsigned char>(p_[pos_]))) {
      v = v * 10 + (p_[pos_++] - '0');
      if (v > 10000) fail("repetition count above 10000");
    }
    if (pos_ == start) fail("expected a number in {}");
    return v;
  }

  std::string quantified(std::string a) {
    while (pos_ < p_.size()) {
      const char c = p_[pos_];
      std::string q;
      if (c == '*' || c == '+' || c == '?') {
        ++pos_;
        q = std::string(1, c);
      } else if (c == '{') {
        ++pos_;
        const int m = read_int();
        q = "{" + std::to_string(m);
        if (pos_ < p_.size() && p_[pos_] == ',') {
          ++pos_;
          q += ",";
          if (pos_ < p_.size() && p_[pos_] != '}') {
            const int n = read_int();
            if (n < m) fail("repetition {m,n} with n < m");
            q += std::to_string(n);
          }
        }
        if (pos_ >= p_.size() || p_[pos_] != '}') fail("expected }");
        ++pos_;
        q += "}";
      } else {
        break;
      }
      if (pos_ < p_.size() && p_[pos_] == '?') ++pos_;  // lazy: same language
      a = "(" + a + ")" + q;
    }
    return a;
  }

  std::string_view p_;
  const std::string& any_;
  size_t pos_ = 0;
};

}  // namespace

std::string regex_to_gbnf(std::string_view pattern, const std::string& json_char) {
  return RegexParser(pattern, json_char).parse();
}

}  // namespace rbees::grammar
