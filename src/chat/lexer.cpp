#include "chat/lexer.hpp"

#include "chat/template_error.hpp"

#include <cerrno>
#include <cstdlib>

namespace rbees::chat {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

// jinja2 splits on \r\n, \r and \n, joins with \n and, without keep_trailing_newline, drops one trailing
// newline of the template.
std::string normalize_source(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out += src[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void append_utf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  Lexer(std::string src, const LexerOptions& opts) : src_(std::move(src)), opts_(opts) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t start = find_tag(pos_);
      if (start == std::string::npos) {
        emit_text(src_.substr(pos_), line_);
        break;
      }
      std::string text = src_.substr(pos_, start - pos_);
      const int text_line = line_;
      count_lines(pos_, start);
      const char kind = src_[start + 1];
      const char sign =
          start + 2 < src_.size() && (src_[start + 2] == '-' || src_[start + 2] == '+') ? src_[start + 2] : 0;
      if (sign == '-') {
        size_t keep = text.size();
        while (keep > 0 && is_ws(text[keep - 1])) --keep;
        text.resize(keep);
      } else if (sign != '+' && opts_.lstrip_blocks && kind != '{') {
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if (l_pos > 0 || line_starting_) {
          bool all_ws = l_pos < text.size();
          for (size_t i = l_pos; i < text.size(); ++i) all_ws = all_ws && is_ws(text[i]);
          if (all_ws) text.resize(l_pos);
        }
      }
      emit_text(std::move(text), text_line);
      pos_ = start + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        lex_comment();
      } else {
        lex_tag(kind == '{');
      }
    }
    out_.push_back(Token{TokenType::kEof, "", 0, 0, line_});
    return std::move(out_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  void count_lines(size_t from, size_t to) {
    for (size_t i = from; i < to && i < src_.size(); ++i) {
      if (src_[i] == '\n') ++line_;
    }
  }

  void emit_text(std::string text, int line) {
    if (text.empty()) return;
    if (!out_.empty() && out_.back().type == TokenType::kText) {
      out_.back().text += text;
      return;
    }
    out_.push_back(Token{TokenType::kText, std::move(text), 0, 0, line});
  }

  void push(TokenType type, std::string text) { out_.push_back(Token{type, std::move(text), 0, 0, line_}); }

  // Applies what follows a tag's end marker: "-" strips all whitespace, a block or comment end
  // (trim_blocks, unless "+") eats one newline.
  void after_tag_end(char end_sign, bool is_block_or_comment) {
    const size_t before = pos_;
    if (end_sign == '-') {
      while (pos_ < src_.size() && is_ws(src_[pos_])) ++pos_;
    } else if (end_sign != '+' && is_block_or_comment && opts_.trim_blocks && pos_ < src_.size() &&
               src_[pos_] == '\n') {
      ++pos_;
    }
    count_lines(before, pos_);
    line_starting_ = pos_ > before && src_[pos_ - 1] == '\n';
  }

  void lex_comment() {
    const size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) throw TemplateError("line " + std::to_string(line_) + ": unterminated comment");
    char end_sign = 0;
    if (end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+')) end_sign = src_[end - 1];
    count_lines(pos_, end);
    pos_ = end + 2;
    after_tag_end(end_sign, true);
  }

  void lex_tag(bool is_var) {
    const size_t first_token = out_.size();
    push(is_var ? TokenType::kVarBegin : TokenType::kBlockBegin, "");
    int depth = 0;
    bool after_dot = false;
    while (true) {
      while (pos_ < src_.size() && is_ws(src_[pos_])) {
        if (src_[pos_] == '\n') ++line_;
        ++pos_;
      }
      if (pos_ >= src_.size()) {
        throw TemplateError("line " + std::to_string(line_) + ": unexpected end of template, unclosed " +
                            (is_var ? "'{{'" : "'{%'"));
      }
      if (depth == 0) {
        char end_sign = 0;
        size_t len = 0;
        if (is_var) {
          if (src_.compare(pos_, 3, "-}}") == 0)
            end_sign = '-', len = 3;
          else if (src_.compare(pos_, 2, "}}") == 0)
            len = 2;
        } else {
          if (src_.compare(pos_, 3, "-%}") == 0)
            end_sign = '-', len = 3;
          else if (src_.compare(pos_, 3, "+%}") == 0)
            end_sign = '+', len = 3;
          else if (src_.compare(pos_, 2, "%}") == 0)
            len = 2;
        }
        if (len) {
          push(is_var ? TokenType::kVarEnd : TokenType::kBlockEnd, "");
          pos_ += len;
          after_tag_end(end_sign, !is_var);
          break;
        }
      }
      const char c = src_[pos_];
      if (is_name_start(c)) {
        size_t e = pos_;
        while (e < src_.size() && is_name_char(src_[e])) ++e;
        push(TokenType::kName, src_.substr(pos_, e - pos_));
        pos_ = e;
      } else if (is_digit(c)) {
        lex_number(after_dot);
      } else if (c == '\'' || c == '"') {
        lex_string();
      } else {
        lex_operator(depth);
      }
      after_dot = out_.back().type == TokenType::kOp && out_.back().text == ".";
    }
    if (!is_var && out_.size() - first_token == 3 && out_[first_token + 1].type == TokenType::kName &&
        out_[first_token + 1].text == "raw") {
      out_.resize(first_token);
      lex_raw();
    }
  }

  // Everything up to {% endraw %} is text.
  void lex_raw() {
    const int raw_line = line_;
    for (size_t i = src_.find("{%", pos_); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t p = i + 2;
      const char sign = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p] : 0;
      if (sign) ++p;
      while (p < src_.size() && is_ws(src_[p])) ++p;
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p += 6;
      while (p < src_.size() && is_ws(src_[p])) ++p;
      char end_sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) end_sign = src_[p++];
      if (src_.compare(p, 2, "%}") != 0) continue;
      std::string text = src_.substr(pos_, i - pos_);
      if (sign == '-') {
        while (!text.empty() && is_ws(text.back())) text.pop_back();
      }
      count_lines(pos_, p + 2);
      emit_text(std::move(text), raw_line);
      pos_ = p + 2;
      after_tag_end(end_sign, true);
      return;
    }
    throw TemplateError("line " + std::to_string(raw_line) + ": missing {% endraw %}");
  }

  void lex_number(bool integer_only) {
    size_t e = pos_;
    auto digits = [&] {
      while (e < src_.size() && (is_digit(src_[e]) || (src_[e] == '_' && e + 1 < src_.size() && is_digit(src_[e + 1]))))
        ++e;
    };
    digits();
    bool is_float = false;
    if (!integer_only && e + 1 < src_.size() && src_[e] == '.' && is_digit(src_[e + 1])) {
      ++e;
      digits();
      is_float = true;
    }
    if (!integer_only && e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t k = e + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && is_digit(src_[k])) {
        e = k;
        digits();
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = pos_; i < e; ++i) {
      if (src_[i] != '_') text += src_[i];
    }
    pos_ = e;
    Token t{is_float ? TokenType::kFloat : TokenType::kInt, text, 0, 0, line_};
    errno = 0;
    if (is_float) {
      t.float_value = std::strtod(text.c_str(), nullptr);
    } else {
      t.int_value = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) throw TemplateError("line " + std::to_string(line_) + ": integer literal too large");
    }
    out_.push_back(std::move(t));
  }

  // Python string-literal escapes (jinja2 decodes them with "unicode-escape").
  void lex_string() {
    const char quote = src_[pos_];
    const int start_line = line_;
    size_t p = pos_ + 1;
    std::string value;
    while (true) {
      if (p >= src_.size()) throw TemplateError("line " + std::to_string(start_line) + ": unterminated string");
      char c = src_[p];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\' || p + 1 >= src_.size()) {
        value += c;
        ++p;
        continue;
      }
      const char e = src_[p + 1];
      p += 2;
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case '\n': ++line_; break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t code = 0;
          for (int k = 0; k < n; ++k) {
            const int h = p < src_.size() ? hex_value(src_[p]) : -1;
            if (h < 0) throw TemplateError("line " + std::to_string(line_) + ": truncated \\" + e + " escape");
            code = code * 16 + static_cast<uint32_t>(h);
            ++p;
          }
          if (code > 0x10FFFF) throw TemplateError("line " + std::to_string(line_) + ": illegal Unicode character");
          append_utf8(value, code);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t code = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++k) {
              code = code * 8 + static_cast<uint32_t>(src_[p++] - '0');
            }
            append_utf8(value, code);
          } else {
            value += '\\';
            value += e;
          }
      }
    }
    pos_ = p + 1;
    out_.push_back(Token{TokenType::kString, std::move(value), 0, 0, start_line});
  }

  void lex_operator(int& depth) {
    static const char* const kTwo[] = {"**", "//", "==", "!=", "<=", ">="};
    for (const char* op : kTwo) {
      if (src_.compare(pos_, 2, op) == 0) {
        push(TokenType::kOp, op);
        pos_ += 2;
        return;
      }
    }
    const char c = src_[pos_];
    static const std::string kSingle = "+-*/%~<>=()[]{},.:|";
    if (kSingle.find(c) == std::string::npos) {
      throw TemplateError("line " + std::to_string(line_) + ": unexpected character '" + std::string(1, c) + "'");
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
    push(TokenType::kOp, std::string(1, c));
    ++pos_;
  }

  std::string src_;
  LexerOptions opts_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexerOptions& opts) {
  return Lexer(normalize_source(source), opts).run();
}

}  // namespace rbees::chat
