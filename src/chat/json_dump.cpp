#include "chat/json_dump.hpp"

#include "chat/template_error.hpp"
#include "chat/utf8.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace rbees::chat {
namespace {

constexpr int kMaxDepth = 256;

void append_hex4(std::string& out, unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", v);
  out += buf;
}

void append_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (const std::string& unit : utf8::units(s)) {
    const char32_t c = utf8::decode_one(unit);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20) {
      append_hex4(out, c);
    } else if (ensure_ascii && c >= 0x80) {
      if (c >= 0x10000) {
        const char32_t v = c - 0x10000;
        append_hex4(out, 0xD800 + (v >> 10));
        append_hex4(out, 0xDC00 + (v & 0x3FF));
      } else {
        append_hex4(out, c);
      }
    } else {
      out += unit;
    }
  }
  out += '"';
}

class Dumper {
 public:
  explicit Dumper(const JsonDumpOptions& opts) : opts_(opts) {
    if (opts.separators) {
      item_sep_ = opts.separators->first;
      key_sep_ = opts.separators->second;
    } else {
      item_sep_ = opts.indent ? "," : ", ";
      key_sep_ = ": ";
    }
  }

  void dump(std::string& out, const Value& v, int depth) {
    if (depth > kMaxDepth) throw TemplateError("tojson: value nested too deeply (or cyclic)");
    switch (v.type()) {
      case Value::Type::kUndefined: throw TemplateError("Object of type Undefined is not JSON serializable");
      case Value::Type::kNone: out += "null"; return;
      case Value::Type::kBool: out += v.as_bool() ? "true" : "false"; return;
      case Value::Type::kInt: out += std::to_string(v.as_int()); return;
      case Value::Type::kFloat: {
        const double d = v.as_double();
        if (std::isnan(d)) {
          out += "NaN";
        } else if (std::isinf(d)) {
          out += d > 0 ? "Infinity" : "-Infinity";
        } else {
          out += python_float_repr(d);
        }
        return;
      }
      case Value::Type::kString: append_string(out, v.as_string(), opts_.ensure_ascii); return;
      case Value::Type::kArray: dump_array(out, v.as_array(), depth); return;
      case Value::Type::kObject: dump_object(out, v.as_object(), depth); return;
      case Value::Type::kCallable: throw TemplateError("Object of type function is not JSON serializable");
    }
  }

 private:
  void newline(std::string& out, int level) {
    out += '\n';
    for (int i = 0; i < level; ++i) out += *opts_.indent;
  }

  void dump_array(std::string& out, const Array& a, int depth) {
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < a.size(); ++i) {
      if (i) out += item_sep_;
      if (opts_.indent) newline(out, depth + 1);
      dump(out, a[i], depth + 1);
    }
    if (opts_.indent) newline(out, depth);
    out += ']';
  }

  void dump_object(std::string& out, const Object& o, int depth) {
    if (o.entries.empty()) {
      out += "{}";
      return;
    }
    std::vector<const std::pair<std::string, Value>*> entries;
    for (const auto& e : o.entries) entries.push_back(&e);
    if (opts_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(), [](auto* x, auto* y) { return x->first < y->first; });
    }
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out += item_sep_;
      if (opts_.indent) newline(out, depth + 1);
      append_string(out, entries[i]->first, opts_.ensure_ascii);
      out += key_sep_;
      dump(out, entries[i]->second, depth + 1);
    }
    if (opts_.indent) newline(out, depth);
    out += '}';
  }

  const JsonDumpOptions& opts_;
  std::string item_sep_;
  std::string key_sep_;
};

}  // namespace

std::string json_dump(const Value& v, const JsonDumpOptions& opts) {
  std::string out;
  Dumper(opts).dump(out, v, 0);
  return out;
}

}  // namespace rbees::chat
