// jinja2's built-in filters, with transformers' `tojson` (json.dumps without sorting or HTML escaping).
#include "chat/builtins.hpp"
#include "chat/interpreter.hpp"
#include "chat/json_dump.hpp"
#include "chat/string_ops.hpp"
#include "chat/template_error.hpp"
#include "chat/utf8.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

namespace rbees::chat {
namespace {

using FilterFn = Value (*)(Interpreter&, const Value&, CallArgs&);

std::string text_of(const Value& v) {
  return v.str();
}

std::optional<std::string> optional_string(const Value& v) {
  if (v.is_undefined() || v.is_none()) return std::nullopt;
  return v.str();
}

int64_t int_arg(const Value& v, const char* what) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  if (v.is_float()) return static_cast<int64_t>(v.as_double());
  throw TemplateError(std::string("expected an integer for ") + what + ", got '" + v.type_name() + "'");
}

// Attribute lookup along a dotted path ("a.b" or "0"), as jinja2's make_attrgetter.
Value attribute_path(Interpreter& in, const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric =
        !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric) {
      v = in.get_item(v, Value::integer(std::atoll(part.c_str())));
    } else {
      Value byitem = v.is_object() ? in.get_item(v, Value::string(part)) : Value::undefined(part);
      v = byitem.is_undefined() ? in.get_attr(v, part) : byitem;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return v;
}

Value f_trim(Interpreter&, const Value& v, CallArgs& a) {
  return Value::string(str::strip(text_of(v), optional_string(a.get(0, "chars")), true, true));
}

Value f_tojson(Interpreter& in, const Value& v, CallArgs& a) {
  JsonDumpOptions o;
  Value indent = a.get(0, "indent");
  if (indent.is_int()) {
    o.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(indent.as_int(), 64))), ' ');
  } else if (indent.is_string()) {
    o.indent = indent.as_string();
  }
  if (const Value* e = a.kwarg("ensure_ascii")) o.ensure_ascii = e->truthy();
  if (const Value* s = a.kwarg("sort_keys")) o.sort_keys = s->truthy();
  if (const Value* s = a.kwarg("separators"); s && s->is_array() && s->as_array().size() == 2) {
    o.separators = std::make_pair(s->as_array()[0].str(), s->as_array()[1].str());
  }
  std::string out = json_dump(v, o);
  in.check_string(out.size());
  return Value::string(std::move(out));
}

Value f_length(Interpreter&, const Value& v, CallArgs&) {
  switch (v.type()) {
    case Value::Type::kUndefined: return Value::integer(0);
    case Value::Type::kString: return Value::integer(static_cast<int64_t>(utf8::length(v.as_string())));
    case Value::Type::kArray: return Value::integer(static_cast<int64_t>(v.as_array().size()));
    case Value::Type::kObject: return Value::integer(static_cast<int64_t>(v.as_object().entries.size()));
    default: throw TemplateError("object of type '" + v.type_name() + "' has no len()");
  }
}

Value f_lower(Interpreter&, const Value& v, CallArgs&) {
  return Value::string(utf8::to_lower_ascii(text_of(v)));
}
Value f_upper(Interpreter&, const Value& v, CallArgs&) {
  return Value::string(utf8::to_upper_ascii(text_of(v)));
}

Value f_first(Interpreter& in, const Value& v, CallArgs&) {
  if (v.is_array()) return v.as_array().empty() ? Value::undefined() : v.as_array().front();
  std::vector<Value> items = in.iterate(v);
  return items.empty() ? Value::undefined() : items.front();
}

Value f_last(Interpreter& in, const Value& v, CallArgs&) {
  if (v.is_array()) return v.as_array().empty() ? Value::undefined() : v.as_array().back();
  std::vector<Value> items = in.iterate(v);
  return items.empty() ? Value::undefined() : items.back();
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
  const std::string sep = a.get(0, "d", Value::string("")).str();
  const Value attribute = a.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& item : in.iterate(v)) {
    if (!first) out += sep;
    first = false;
    out +=
        attribute.is_undefined() || attribute.is_none() ? item.str() : attribute_path(in, item, attribute.str()).str();
    in.check_string(out.size());
  }
  return Value::string(std::move(out));
}

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
  const Value fallback = a.get(0, "default_value", Value::string(""));
  const bool boolean = a.get(1, "boolean", Value::boolean(false)).truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return fallback;
  return v;
}

Value f_capitalize(Interpreter&, const Value& v, CallArgs&) {
  return Value::string(str::capitalize(text_of(v)));
}
Value f_title(Interpreter&, const Value& v, CallArgs&) {
  return Value::string(str::jinja_title(text_of(v)));
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& a) {
  const Value count = a.get(2, "count");
  return Value::string(str::replace(text_of(v), a.get(0, "old").str(), a.get(1, "new").str(),
                                    count.is_undefined() || count.is_none() ? -1 : int_arg(count, "count"),
                                    in.limits().max_output_bytes));
}

Value f_list(Interpreter& in, const Value& v, CallArgs&) {
  return Value::array(in.iterate(v));
}
Value f_string(Interpreter&, const Value& v, CallArgs&) {
  return Value::string(text_of(v));
}

std::optional<double> parse_float(const std::string& text) {
  std::string s = str::strip(text, std::nullopt, true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return d;
}

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
  const Value fallback = a.get(0, "default", Value::integer(0));
  const int base = static_cast<int>(int_arg(a.get(1, "base", Value::integer(10)), "base"));
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) {
    const double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    std::string s = str::strip(v.as_string(), std::nullopt, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (!s.empty() && base >= 2 && base <= 36) {
      char* end = nullptr;
      errno = 0;
      const long long i = std::strtoll(s.c_str(), &end, base);
      if (end == s.c_str() + s.size() && errno == 0) return Value::integer(i);
    }
    if (auto d = parse_float(s); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) {
      return Value::integer(static_cast<int64_t>(*d));
    }
  }
  return fallback;
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
  const Value fallback = a.get(0, "default", Value::number(0.0));
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    if (auto d = parse_float(v.as_string())) return Value::number(*d);
  }
  return fallback;
}

Value f_abs(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_float()) return Value::number(std::fabs(v.as_double()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) throw TemplateError("integer overflow");
    return Value::integer(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  throw TemplateError("bad operand type for abs(): '" + v.type_name() + "'");
}

Value pair(const std::string& k, const Value& v) {
  return Value::array({Value::string(k), v});
}

Value f_items(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::array();
  if (!v.is_object()) throw TemplateError("Can only get item pairs from a mapping.");
  Array out;
  for (const auto& [k, x] : v.as_object().entries) out.push_back(pair(k, x));
  return Value::array(std::move(out));
}

Value f_dictsort(Interpreter&, const Value& v, CallArgs& a) {
  if (!v.is_object()) throw TemplateError("dictsort: expected a mapping, got '" + v.type_name() + "'");
  const bool case_sensitive = a.get(0, "case_sensitive", Value::boolean(false)).truthy();
  const std::string by = a.get(1, "by", Value::string("key")).str();
  const bool reverse = a.get(2, "reverse", Value::boolean(false)).truthy();
  if (by != "key" && by != "value") throw TemplateError("You can only sort by either \"key\" or \"value\"");
  Array out;
  for (const auto& [k, x] : v.as_object().entries) out.push_back(pair(k, x));
  const size_t idx = by == "key" ? 0 : 1;
  std::stable_sort(out.begin(), out.end(), [&](const Value& x, const Value& y) {
    const Value kx = sort_key(x.as_array()[idx], case_sensitive), ky = sort_key(y.as_array()[idx], case_sensitive);
    return reverse ? values_less(ky, kx) : values_less(kx, ky);
  });
  return Value::array(std::move(out));
}

// select/reject/selectattr/rejectattr share this: keep items whose (attribute) passes the test.
Value select_items(Interpreter& in, const Value& v, CallArgs& a, bool by_attribute, bool keep_when) {
  size_t pos = 0;
  std::string attribute;
  if (by_attribute) {
    if (a.args.empty()) throw TemplateError("selectattr/rejectattr need an attribute name");
    attribute = a.args[pos++].str();
  }
  std::string test;
  CallArgs test_args;
  if (pos < a.args.size()) {
    test = a.args[pos++].str();
    if (!has_test(test)) throw TemplateError("no test named '" + test + "'");
    test_args.args.assign(a.args.begin() + static_cast<long>(pos), a.args.end());
  }
  Array out;
  for (const Value& item : in.iterate(v)) {
    const Value subject = by_attribute ? attribute_path(in, item, attribute) : item;
    CallArgs args = test_args;
    const bool passed = test.empty() ? subject.truthy() : apply_test(in, test, subject, args);
    if (passed == keep_when) out.push_back(item);
  }
  return Value::array(std::move(out));
}

Value f_select(Interpreter& in, const Value& v, CallArgs& a) {
  return select_items(in, v, a, false, true);
}
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) {
  return select_items(in, v, a, false, false);
}
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) {
  return select_items(in, v, a, true, true);
}
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) {
  return select_items(in, v, a, true, false);
}

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
  Array out;
  if (const Value* attribute = a.kwarg("attribute")) {
    const Value* fallback = a.kwarg("default");
    for (const Value& item : in.iterate(v)) {
      Value x = attribute_path(in, item, attribute->str());
      out.push_back(x.is_undefined() && fallback ? *fallback : x);
    }
    return Value::array(std::move(out));
  }
  if (a.args.empty()) throw TemplateError("map: expected a filter name or attribute=");
  const std::string filter = a.args[0].str();
  if (!has_filter(filter)) throw TemplateError("no filter named '" + filter + "'");
  CallArgs rest;
  rest.args.assign(a.args.begin() + 1, a.args.end());
  rest.kwargs = a.kwargs;
  for (const Value& item : in.iterate(v)) {
    CallArgs args = rest;
    out.push_back(apply_filter(in, filter, item, args));
  }
  return Value::array(std::move(out));
}

Value f_unique(Interpreter& in, const Value& v, CallArgs& a) {
  const bool case_sensitive = a.get(0, "case_sensitive", Value::boolean(false)).truthy();
  const Value attribute = a.get(1, "attribute");
  Array out, seen;
  for (const Value& item : in.iterate(v)) {
    Value key = attribute.is_undefined() || attribute.is_none() ? item : attribute_path(in, item, attribute.str());
    if (!case_sensitive && key.is_string()) key = Value::string(utf8::to_lower_ascii(key.as_string()));
    bool dup = false;
    for (const Value& s : seen) dup = dup || values_equal(s, key);
    if (dup) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::array(std::move(out));
}

Value f_reverse(Interpreter& in, const Value& v, CallArgs&) {
  if (v.is_string()) {
    auto u = utf8::units(v.as_string());
    std::string out;
    for (auto it = u.rbegin(); it != u.rend(); ++it) out += *it;
    return Value::string(std::move(out));
  }
  std::vector<Value> items = in.iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::array(std::move(items));
}

Value f_safe(Interpreter&, const Value& v, CallArgs&) {
  return v;
}
Value f_escape(Interpreter&, const Value& v, CallArgs&) {
  return Value::string(str::html_escape(text_of(v)));
}

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
  const int64_t precision = int_arg(a.get(0, "precision", Value::integer(0)), "precision");
  const std::string method = a.get(1, "method", Value::string("common")).str();
  if (!v.is_number()) throw TemplateError("round: expected a number, got '" + v.type_name() + "'");
  if (method == "common" && !v.is_float() && precision >= 0) return Value::integer(v.as_int());  // round(int) is int
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  double r;
  if (method == "common") {
    r = std::nearbyint(x);  // Python's round() rounds halves to even
  } else if (method == "floor") {
    r = std::floor(x);
  } else if (method == "ceil") {
    r = std::ceil(x);
  } else {
    throw TemplateError("method must be common, ceil or floor");
  }
  return Value::number(r / scale);
}

Value f_sort(Interpreter& in, const Value& v, CallArgs& a) {
  const bool reverse = a.get(0, "reverse", Value::boolean(false)).truthy();
  const bool case_sensitive = a.get(1, "case_sensitive", Value::boolean(false)).truthy();
  const Value attribute = a.get(2, "attribute");
  std::vector<Value> items = in.iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& item : items) {
    Value key = attribute.is_undefined() || attribute.is_none() ? item : attribute_path(in, item, attribute.str());
    keyed.emplace_back(sort_key(key, case_sensitive), std::move(item));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? values_less(y.first, x.first) : values_less(x.first, y.first);
  });
  Array out;
  for (auto& [_, item] : keyed) out.push_back(std::move(item));
  return Value::array(std::move(out));
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& a) {
  const Value width = a.get(0, "width", Value::integer(4));
  const bool first = a.get(1, "first", Value::boolean(false)).truthy();
  const bool blank = a.get(2, "blank", Value::boolean(false)).truthy();
  const std::string pad =
      width.is_string() ? width.as_string()
                        : std::string(static_cast<size_t>(std::clamp<int64_t>(int_arg(width, "width"), 0, 1024)), ' ');
  std::vector<std::string> lines = str::splitlines(text_of(v) + "\n", false);
  std::string out;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) out += "\n" + pad;
      out += lines[i];
    }
  } else if (!lines.empty()) {
    out = lines[0];
    for (size_t i = 1; i < lines.size(); ++i) out += "\n" + (lines[i].empty() ? lines[i] : pad + lines[i]);
  }
  if (first) out = pad + out;
  in.check_string(out.size());
  return Value::string(std::move(out));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs&) {
  const std::string s = text_of(v);
  int64_t count = 0;
  bool in_word = false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool word =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || u >= 0x80;
    if (word && !in_word) ++count;
    in_word = word;
  }
  return Value::integer(count);
}

Value f_min_max(Interpreter& in, const Value& v, CallArgs& a, bool want_max) {
  const bool case_sensitive = a.get(0, "case_sensitive", Value::boolean(false)).truthy();
  const Value attribute = a.get(1, "attribute");
  std::vector<Value> items = in.iterate(v);
  if (items.empty()) return Value::undefined();
  size_t best = 0;
  Value best_key;
  for (size_t i = 0; i < items.size(); ++i) {
    Value key = sort_key(
        attribute.is_undefined() || attribute.is_none() ? items[i] : attribute_path(in, items[i], attribute.str()),
        case_sensitive);
    if (i == 0 || (want_max ? values_less(best_key, key) : values_less(key, best_key))) {
      best = i;
      best_key = key;
    }
  }
  return items[best];
}
Value f_min(Interpreter& in, const Value& v, CallArgs& a) {
  return f_min_max(in, v, a, false);
}
Value f_max(Interpreter& in, const Value& v, CallArgs& a) {
  return f_min_max(in, v, a, true);
}

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
  const Value attribute = a.get(0, "attribute");
  Value total = a.get(1, "start", Value::integer(0));
  for (const Value& item : in.iterate(v)) {
    total = binary_operator(
        in, "+", total,
        attribute.is_undefined() || attribute.is_none() ? item : attribute_path(in, item, attribute.str()));
  }
  return total;
}

// Attributes only, never items: a dict's keys are not attributes.
Value f_attr(Interpreter& in, const Value& v, CallArgs& a) {
  const std::string name = a.get(0, "name").str();
  if (v.is_object() && !v.as_object().is_namespace) return method_of(in, v, name);
  return in.get_attr(v, name);
}

// printf-style formatting for the `format` filter: %s %r %d %i %f %% (flags and widths are not supported).
Value f_format(Interpreter& in, const Value& v, CallArgs& a) {
  const std::string fmt = text_of(v);
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%' || i + 1 >= fmt.size()) {
      out += fmt[i];
      continue;
    }
    const char spec = fmt[++i];
    if (spec == '%') {
      out += '%';
      continue;
    }
    if (next >= a.args.size()) throw TemplateError("not enough arguments for format string");
    const Value& arg = a.args[next++];
    switch (spec) {
      case 's': out += arg.str(); break;
      case 'r': out += arg.repr(); break;
      case 'd':
      case 'i':
        if (!arg.is_number()) throw TemplateError("%d format: a number is required");
        out += std::to_string(arg.is_float() ? static_cast<int64_t>(arg.as_double()) : arg.as_int());
        break;
      case 'f': {
        if (!arg.is_number()) throw TemplateError("%f format: a number is required");
        char buf[64];
        std::snprintf(buf, sizeof buf, "%f", arg.as_double());
        out += buf;
        break;
      }
      default: throw TemplateError(std::string("unsupported format character '") + spec + "'");
    }
    in.check_string(out.size());
  }
  return Value::string(std::move(out));
}

Value f_center(Interpreter& in, const Value& v, CallArgs& a) {
  const std::string s = text_of(v);
  const int64_t width = std::min<int64_t>(int_arg(a.get(0, "width", Value::integer(80)), "width"), 1 << 20);
  const int64_t len = static_cast<int64_t>(utf8::length(s));
  if (width <= len) return Value::string(s);
  const int64_t total = width - len;
  const int64_t left = total / 2 + (total & width & 1);
  std::string out =
      std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' ');
  in.check_string(out.size());
  return Value::string(std::move(out));
}

const std::unordered_map<std::string, FilterFn>& filters() {
  static const std::unordered_map<std::string, FilterFn> table = {
      {"trim", f_trim},
      {"tojson", f_tojson},
      {"length", f_length},
      {"count", f_length},
      {"lower", f_lower},
      {"upper", f_upper},
      {"first", f_first},
      {"last", f_last},
      {"join", f_join},
      {"default", f_default},
      {"d", f_default},
      {"capitalize", f_capitalize},
      {"title", f_title},
      {"replace", f_replace},
      {"list", f_list},
      {"string", f_string},
      {"int", f_int},
      {"float", f_float},
      {"abs", f_abs},
      {"items", f_items},
      {"dictsort", f_dictsort},
      {"selectattr", f_selectattr},
      {"rejectattr", f_rejectattr},
      {"select", f_select},
      {"reject", f_reject},
      {"map", f_map},
      {"unique", f_unique},
      {"reverse", f_reverse},
      {"safe", f_safe},
      {"escape", f_escape},
      {"e", f_escape},
      {"round", f_round},
      {"sort", f_sort},
      {"indent", f_indent},
      {"wordcount", f_wordcount},
      {"min", f_min},
      {"max", f_max},
      {"sum", f_sum},
      {"attr", f_attr},
      {"format", f_format},
      {"center", f_center},
  };
  return table;
}

}  // namespace

Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(utf8::to_lower_ascii(v.as_string()));
  return v;
}

bool has_filter(std::string_view name) {
  return filters().count(std::string(name)) > 0;
}

Value apply_filter(Interpreter& in, const std::string& name, const Value& input, CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) throw TemplateError("no filter named '" + name + "'");
  return it->second(in, input, args);
}

}  // namespace rbees::chat
