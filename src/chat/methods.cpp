// Methods of str, list and dict values that templates call (`content.strip()`, `d.items()`,
// `ns.parts.append(x)`), bound to their object as callables.
#include "chat/builtins.hpp"
#include "chat/interpreter.hpp"
#include "chat/string_ops.hpp"
#include "chat/template_error.hpp"
#include "chat/utf8.hpp"

#include <algorithm>
#include <cctype>

namespace rbees::chat {
namespace {

std::optional<std::string> opt_str(const Value& v) {
  if (v.is_undefined() || v.is_none()) return std::nullopt;
  if (!v.is_string()) throw TemplateError("expected a string argument, got '" + v.type_name() + "'");
  return v.as_string();
}

long long opt_int(const Value& v, long long fallback) {
  if (v.is_undefined() || v.is_none()) return fallback;
  if (!v.is_int() && !v.is_bool()) throw TemplateError("expected an integer argument, got '" + v.type_name() + "'");
  return v.as_int();
}

const std::string& str_arg(CallArgs& a, size_t pos, const char* name) {
  if (pos >= a.args.size()) {
    if (const Value* v = a.kwarg(name); v && v->is_string()) return v->as_string();
    throw TemplateError(std::string("missing string argument '") + name + "'");
  }
  if (!a.args[pos].is_string()) {
    throw TemplateError(std::string("argument '") + name + "' must be str, not " + a.args[pos].type_name());
  }
  return a.args[pos].as_string();
}

Value strings(const std::vector<std::string>& parts) {
  Array out;
  for (const auto& p : parts) out.push_back(Value::string(p));
  return Value::array(std::move(out));
}

// startswith/endswith accept a string or a tuple (list) of strings.
bool affix_match(const std::string& s, const Value& arg, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) throw TemplateError("startswith/endswith: expected str, got '" + a.type_name() + "'");
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (arg.is_array()) {
    for (const Value& a : arg.as_array()) {
      if (one(a)) return true;
    }
    return false;
  }
  return one(arg);
}

// Python str.format with automatic or numbered or named fields; format specs are not supported.
std::string python_format(const std::string& fmt, CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      const size_t close = fmt.find('}', i);
      if (close == std::string::npos) throw TemplateError("Single '{' encountered in format string");
      const std::string field = fmt.substr(i + 1, close - i - 1);
      if (field.find(':') != std::string::npos || field.find('!') != std::string::npos) {
        throw TemplateError("format specifications are not supported");
      }
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_index >= a.args.size()) throw TemplateError("Replacement index out of range");
        v = &a.args[auto_index++];
      } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
        const size_t k = static_cast<size_t>(std::stoul(field));
        if (k >= a.args.size()) throw TemplateError("Replacement index out of range");
        v = &a.args[k];
      } else {
        v = a.kwarg(field);
        if (!v) throw TemplateError("KeyError: '" + field + "'");
      }
      out += v->str();
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

Value string_method(Interpreter& in, const std::string& s, const std::string& name, CallArgs& a) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    return Value::string(str::strip(s, opt_str(a.get(0, "chars")), name != "rstrip", name != "lstrip"));
  }
  if (name == "startswith" || name == "endswith")
    return Value::boolean(affix_match(s, a.get(0, "prefix"), name == "startswith"));
  if (name == "split") return strings(str::split(s, opt_str(a.get(0, "sep")), opt_int(a.get(1, "maxsplit"), -1)));
  if (name == "rsplit") return strings(str::rsplit(s, opt_str(a.get(0, "sep")), opt_int(a.get(1, "maxsplit"), -1)));
  if (name == "splitlines") return strings(str::splitlines(s, a.get(0, "keepends").truthy()));
  if (name == "replace") {
    return Value::string(str::replace(s, str_arg(a, 0, "old"), str_arg(a, 1, "new"), opt_int(a.get(2, "count"), -1),
                                      in.limits().max_output_bytes));
  }
  if (name == "lower") return Value::string(utf8::to_lower_ascii(s));
  if (name == "upper") return Value::string(utf8::to_upper_ascii(s));
  if (name == "title") return Value::string(str::title(s));
  if (name == "capitalize") return Value::string(str::capitalize(s));
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    const std::string& sub = str_arg(a, 0, "sub");
    const size_t hit = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
    if (hit == std::string::npos) {
      if (name.find("index") != std::string::npos) throw TemplateError("substring not found");
      return Value::integer(-1);
    }
    return Value::integer(static_cast<int64_t>(utf8::length(s.substr(0, hit))));
  }
  if (name == "count") {
    const std::string& sub = str_arg(a, 0, "sub");
    if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8::length(s) + 1));
    int64_t n = 0;
    for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
    return Value::integer(n);
  }
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const Value& item : in.iterate(a.get(0, "iterable"))) {
      if (!item.is_string())
        throw TemplateError("sequence item: expected str instance, " + item.type_name() + " found");
      if (!first) out += s;
      first = false;
      out += item.as_string();
      in.check_string(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "format") {
    std::string out = python_format(s, a);
    in.check_string(out.size());
    return Value::string(std::move(out));
  }
  auto all_of = [&](auto pred) {
    return Value::boolean(!s.empty() &&
                          std::all_of(s.begin(), s.end(), [&](char c) { return pred(static_cast<unsigned char>(c)); }));
  };
  if (name == "isdigit") return all_of([](unsigned char c) { return c >= '0' && c <= '9'; });
  if (name == "isalpha") return all_of([](unsigned char c) { return std::isalpha(c) != 0; });
  if (name == "isalnum") return all_of([](unsigned char c) { return std::isalnum(c) != 0; });
  if (name == "isspace") return all_of([](unsigned char c) { return std::isspace(c) != 0; });
  if (name == "islower") return Value::boolean(s != utf8::to_upper_ascii(s) && s == utf8::to_lower_ascii(s));
  if (name == "isupper") return Value::boolean(s != utf8::to_lower_ascii(s) && s == utf8::to_upper_ascii(s));
  throw TemplateError("'str' object has no attribute '" + name + "'");
}

Value list_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& a) {
  Array& list = self.as_array();
  if (name == "append") {
    if (a.args.size() != 1) throw TemplateError("append() takes exactly one argument");
    in.check_items(list.size() + 1);
    if (a.args[0].identity() == self.identity()) throw TemplateError("cannot append a list to itself");
    list.push_back(a.args[0]);
    return Value::none();
  }
  if (name == "extend") {
    std::vector<Value> items = in.iterate(a.get(0, "iterable"));
    in.check_items(list.size() + items.size());
    list.insert(list.end(), items.begin(), items.end());
    return Value::none();
  }
  if (name == "pop") {
    if (list.empty()) throw TemplateError("pop from empty list");
    int64_t i = opt_int(a.get(0, "index"), -1);
    if (i < 0) i += static_cast<int64_t>(list.size());
    if (i < 0 || i >= static_cast<int64_t>(list.size())) throw TemplateError("pop index out of range");
    Value v = list[static_cast<size_t>(i)];
    list.erase(list.begin() + i);
    return v;
  }
  if (name == "index") {
    const Value x = a.get(0, "value");
    for (size_t i = 0; i < list.size(); ++i) {
      if (values_equal(list[i], x)) return Value::integer(static_cast<int64_t>(i));
    }
    throw TemplateError(x.repr() + " is not in list");
  }
  if (name == "count") {
    const Value x = a.get(0, "value");
    int64_t n = 0;
    for (const Value& v : list) n += values_equal(v, x) ? 1 : 0;
    return Value::integer(n);
  }
  throw TemplateError("'list' object has no attribute '" + name + "'");
}

Value dict_method(const Value& self, const std::string& name, CallArgs& a) {
  const Object& o = self.as_object();
  if (name == "items") {
    Array out;
    for (const auto& [k, v] : o.entries) out.push_back(Value::array({Value::string(k), v}));
    return Value::array(std::move(out));
  }
  if (name == "keys") {
    Array out;
    for (const auto& [k, _] : o.entries) out.push_back(Value::string(k));
    return Value::array(std::move(out));
  }
  if (name == "values") {
    Array out;
    for (const auto& [_, v] : o.entries) out.push_back(v);
    return Value::array(std::move(out));
  }
  if (name == "get") {
    const Value key = a.get(0, "key");
    const Value* v = key.is_string() ? o.find(key.as_string()) : nullptr;
    return v ? *v : a.get(1, "default", Value::none());
  }
  throw TemplateError("'dict' object has no attribute '" + name + "'");
}

bool is_string_method(const std::string& n) {
  static const char* const kNames[] = {
      "strip", "lstrip", "rstrip",  "startswith", "endswith", "split",   "rsplit",  "splitlines", "replace",
      "lower", "upper",  "title",   "capitalize", "find",     "rfind",   "index",   "rindex",     "count",
      "join",  "format", "isdigit", "isalpha",    "isalnum",  "isspace", "islower", "isupper"};
  return std::find(std::begin(kNames), std::end(kNames), n) != std::end(kNames);
}

}  // namespace

Value method_of(Interpreter& in, const Value& self, const std::string& name) {
  Interpreter* interp = &in;
  if (self.is_string() && is_string_method(name)) {
    return Value::callable(
        name, [interp, self, name](CallArgs& a) { return string_method(*interp, self.as_string(), name, a); });
  }
  if (self.is_array() &&
      (name == "append" || name == "extend" || name == "pop" || name == "index" || name == "count")) {
    return Value::callable(name, [interp, self, name](CallArgs& a) { return list_method(*interp, self, name, a); });
  }
  if (self.is_object() && (name == "items" || name == "keys" || name == "values" || name == "get")) {
    return Value::callable(name, [self, name](CallArgs& a) { return dict_method(self, name, a); });
  }
  return Value::undefined(name);
}

}  // namespace rbees::chat
