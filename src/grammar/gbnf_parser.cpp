#include "grammar/gbnf_parser.hpp"

#include "grammar/grammar_error.hpp"

#include <set>
#include <string>

namespace rbees::grammar {

namespace {

constexpr uint32_t kMaxCodepoint = 0x10FFFF;
constexpr int32_t kMaxRepeat = 100000;

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  RuleSet parse() {
    RuleSet out;
    std::set<std::string> defined;
    skip_space(true);
    while (pos_ < s_.size()) {
      const std::string name = parse_name();
      if (name.empty()) fail("expected a rule name");
      skip_space(false);
      if (s_.substr(pos_, 3) != "::=") fail("expected ::= after rule name '" + name + "'");
      pos_ += 3;
      skip_space(true);
      Expr body = parse_alternatives(false);
      if (!defined.insert(name).second) fail("rule '" + name + "' is defined twice");
      out.rules.emplace_back(name, std::move(body));
      skip_space(false);
      if (pos_ < s_.size() && s_[pos_] != '\n' && s_[pos_] != '\r') fail("expected the end of the line");
      skip_space(true);
    }
    if (!defined.count("root")) throw GrammarError("grammar: no rule named 'root'");
    for (const auto& [name, body] : out.rules) check_refs(body, defined, name);
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw GrammarError("grammar: " + what + " at line " + std::to_string(line) + ", column " + std::to_string(col));
  }

  static void check_refs(const Expr& e, const std::set<std::string>& defined, const std::string& rule) {
    if (e.kind == Expr::Kind::kRuleRef && !defined.count(e.text)) {
      throw GrammarError("grammar: rule '" + rule + "' refers to undefined rule '" + e.text + "'");
    }
    for (const auto& i : e.items) check_refs(i, defined, rule);
  }

  // Spaces, tabs and comments; newlines too when `newlines` (inside groups, after ::= and |).
  void skip_space(bool newlines) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else if (newlines && (c == '\n' || c == '\r')) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  }

  std::string parse_name() {
    const size_t start = pos_;
    while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  uint32_t parse_hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      if (pos_ >= s_.size()) fail("unfinished escape");
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        fail("expected a hexadecimal digit in an escape");
      }
    }
    if (v > kMaxCodepoint) fail("escape beyond U+10FFFF");
    return v;
  }

  // One character of a literal or class: an escape or a UTF-8 sequence, as a code point.
  uint32_t parse_char() {
    if (pos_ >= s_.size()) fail("unexpected end of grammar");
    const auto c = static_cast<unsigned char>(s_[pos_]);
    if (c == '\\') {
      ++pos_;
      if (pos_ >= s_.size()) fail("unfinished escape");
      const char e = s_[pos_++];
      switch (e) {
        case 'x': return parse_hex(2);
        case 'u': return parse_hex(4);
        case 'U': return parse_hex(8);
        case 't': return '\t';
        case 'r': return '\r';
        case 'n': return '\n';
        case '\\': return '\\';
        case '"': return '"';
        case '[': return '[';
        case ']': return ']';
        case '-': return '-';
        case '^': return '^';
        default: fail(std::string("unknown escape \\") + e);
      }
    }
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || pos_ + static_cast<size_t>(len) > s_.size()) fail("invalid UTF-8");
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < len; ++i) {
      const auto b = static_cast<unsigned char>(s_[pos_ + static_cast<size_t>(i)]);
      if ((b & 0xC0) != 0x80) fail("invalid UTF-8");
      cp = (cp << 6) | (b & 0x3F);
    }
    pos_ += static_cast<size_t>(len);
    return cp;
  }

  int32_t parse_int() {
    const size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      v = v * 10 + (s_[pos_++] - '0');
      if (v > kMaxRepeat) fail("repetition count above " + std::to_string(kMaxRepeat));
    }
    if (pos_ == start) fail("expected a number");
    return static_cast<int32_t>(v);
  }

  Expr parse_alternatives(bool nested) {
    Expr alts;
    alts.kind = Expr::Kind::kAlternatives;
    alts.items.push_back(parse_sequence(nested));
    while (pos_ < s_.size() && s_[pos_] == '|') {
      ++pos_;
      skip_space(true);
      alts.items.push_back(parse_sequence(nested));
    }
    if (alts.items.size() == 1) return std::move(alts.items[0]);
    return alts;
  }

  Expr parse_sequence(bool nested) {
    Expr seq;
    seq.kind = Expr::Kind::kSequence;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        std::string bytes;
        while (pos_ < s_.size() && s_[pos_] != '"') append_utf8(bytes, parse_char());
        if (pos_ >= s_.size()) fail("unterminated literal");
        ++pos_;
        seq.items.push_back(Expr::literal(std::move(bytes)));
      } else if (c == '[') {
        ++pos_;
        Expr cls;
        cls.kind = Expr::Kind::kCharClass;
        if (pos_ < s_.size() && s_[pos_] == '^') {
          cls.negated = true;
          ++pos_;
        }
        while (pos_ < s_.size() && s_[pos_] != ']') {
          const uint32_t lo = parse_char();
          uint32_t hi = lo;
          if (pos_ + 1 < s_.size() && s_[pos_] == '-' && s_[pos_ + 1] != ']') {
            ++pos_;
            hi = parse_char();
            if (hi < lo) fail("character range out of order");
          }
          cls.ranges.push_back({lo, hi});
        }
        if (pos_ >= s_.size()) fail("unterminated character class");
        ++pos_;
        seq.items.push_back(std::move(cls));
      } else if (c == '.') {
        ++pos_;
        Expr cls;
        cls.kind = Expr::Kind::kCharClass;
        cls.ranges.push_back({0, kMaxCodepoint});
        seq.items.push_back(std::move(cls));
      } else if (c == '(') {
        ++pos_;
        skip_space(true);
        Expr group = parse_alternatives(true);
        skip_space(true);
        if (pos_ >= s_.size() || s_[pos_] != ')') fail("expected )");
        ++pos_;
        seq.items.push_back(std::move(group));
      } else if (c == '<' || c == '!') {
        fail("token references are not supported");
      } else if (is_name_char(c)) {
        const size_t save = pos_;
        std::string name = parse_name();
        // A name followed by ::= starts the next rule (rules may follow without a blank line in groups).
        size_t look = pos_;
        while (look < s_.size() && (s_[look] == ' ' || s_[look] == '\t')) ++look;
        if (s_.substr(look, 3) == "::=") {
          pos_ = save;
          fail("expected the end of the rule before '" + name + " ::='");
        }
        seq.items.push_back(Expr::ref(std::move(name)));
      } else {
        break;
      }
      skip_space(nested);
      parse_postfix(seq, nested);
    }
    if (seq.items.size() == 1) return std::move(seq.items[0]);
    return seq;
  }

  void parse_postfix(Expr& seq, bool nested) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      int32_t min, max;
      if (c == '*') {
        min = 0, max = -1, ++pos_;
      } else if (c == '+') {
        min = 1, max = -1, ++pos_;
      } else if (c == '?') {
        min = 0, max = 1, ++pos_;
      } else if (c == '{') {
        ++pos_;
        skip_space(false);
        min = parse_int();
        max = min;
        skip_space(false);
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          skip_space(false);
          max = (pos_ < s_.size() && s_[pos_] == '}') ? -1 : parse_int();
          skip_space(false);
        }
        if (pos_ >= s_.size() || s_[pos_] != '}') fail("expected } after a repetition count");
        ++pos_;
        if (max != -1 && max < min) fail("repetition {m,n} with n < m");
      } else {
        return;
      }
      Expr rep;
      rep.kind = Expr::Kind::kRepeat;
      rep.min = min;
      rep.max = max;
      rep.items.push_back(std::move(seq.items.back()));
      seq.items.back() = std::move(rep);
      skip_space(nested);
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

RuleSet parse_gbnf(std::string_view text) {
  return Parser(text).parse();
}

}  // namespace rbees::grammar
