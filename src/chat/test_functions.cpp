// jinja2's built-in tests (`x is defined`, `x is divisibleby 3`, ...).
#include "chat/builtins.hpp"
#include "chat/interpreter.hpp"
#include "chat/template_error.hpp"

#include <cmath>
#include <unordered_map>

namespace rbees::chat {
namespace {

using TestFn = bool (*)(Interpreter&, const Value&, CallArgs&);

const Value& arg0(CallArgs& a, const char* test) {
  if (a.args.empty()) {
    if (!a.kwargs.empty()) return a.kwargs.front().second;
    throw TemplateError(std::string("test '") + test + "' needs an argument");
  }
  return a.args[0];
}

bool t_defined(Interpreter&, const Value& v, CallArgs&) {
  return !v.is_undefined();
}
bool t_undefined(Interpreter&, const Value& v, CallArgs&) {
  return v.is_undefined();
}
bool t_none(Interpreter&, const Value& v, CallArgs&) {
  return v.is_none();
}
bool t_string(Interpreter&, const Value& v, CallArgs&) {
  return v.is_string();
}
bool t_number(Interpreter&, const Value& v, CallArgs&) {
  return v.is_number();
}
bool t_integer(Interpreter&, const Value& v, CallArgs&) {
  return v.is_int();
}
bool t_float(Interpreter&, const Value& v, CallArgs&) {
  return v.is_float();
}
bool t_mapping(Interpreter&, const Value& v, CallArgs&) {
  return v.is_object();
}
bool t_iterable(Interpreter&, const Value& v, CallArgs&) {
  return v.is_string() || v.is_array() || v.is_object() || v.is_undefined();
}
bool t_sequence(Interpreter&, const Value& v, CallArgs&) {
  return v.is_string() || v.is_array() || v.is_object();
}
bool t_boolean(Interpreter&, const Value& v, CallArgs&) {
  return v.is_bool();
}
bool t_true(Interpreter&, const Value& v, CallArgs&) {
  return v.is_bool() && v.as_bool();
}
bool t_false(Interpreter&, const Value& v, CallArgs&) {
  return v.is_bool() && !v.as_bool();
}
bool t_callable(Interpreter&, const Value& v, CallArgs&) {
  return v.is_callable();
}
bool t_eq(Interpreter&, const Value& v, CallArgs& a) {
  return values_equal(v, arg0(a, "eq"));
}
bool t_ne(Interpreter&, const Value& v, CallArgs& a) {
  return !values_equal(v, arg0(a, "ne"));
}
bool t_lt(Interpreter&, const Value& v, CallArgs& a) {
  return values_less(v, arg0(a, "lt"));
}
bool t_gt(Interpreter&, const Value& v, CallArgs& a) {
  return values_less(arg0(a, "gt"), v);
}
bool t_le(Interpreter&, const Value& v, CallArgs& a) {
  return !values_less(arg0(a, "le"), v);
}
bool t_ge(Interpreter&, const Value& v, CallArgs& a) {
  return !values_less(v, arg0(a, "ge"));
}
bool t_in(Interpreter& in, const Value& v, CallArgs& a) {
  return binary_operator(in, "in", v, arg0(a, "in")).as_bool();
}
bool t_sameas(Interpreter&, const Value& v, CallArgs& a) {
  const Value& other = arg0(a, "sameas");
  if (v.type() != other.type()) return false;
  if (v.identity()) return v.identity() == other.identity();
  return values_equal(v, other);
}

int64_t integral(const Value& v, const char* test) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  if (v.is_float() && std::floor(v.as_double()) == v.as_double() && std::fabs(v.as_double()) < 9e18) {
    return static_cast<int64_t>(v.as_double());
  }
  throw TemplateError(std::string("test '") + test + "' needs an integer, got '" + v.type_name() + "'");
}

bool t_odd(Interpreter&, const Value& v, CallArgs&) {
  return integral(v, "odd") % 2 != 0;
}
bool t_even(Interpreter&, const Value& v, CallArgs&) {
  return integral(v, "even") % 2 == 0;
}
bool t_divisibleby(Interpreter&, const Value& v, CallArgs& a) {
  const int64_t d = integral(arg0(a, "divisibleby"), "divisibleby");
  if (d == 0) throw TemplateError("integer division or modulo by zero");
  if (d == -1) return true;
  return integral(v, "divisibleby") % d == 0;
}
bool t_lower(Interpreter&, const Value& v, CallArgs&) {
  if (!v.is_string()) return false;
  for (char c : v.as_string()) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}
bool t_upper(Interpreter&, const Value& v, CallArgs&) {
  if (!v.is_string()) return false;
  for (char c : v.as_string()) {
    if (c >= 'a' && c <= 'z') return false;
  }
  return true;
}

struct TestEntry {
  TestFn fn;
  bool takes_argument;
};

const std::unordered_map<std::string, TestEntry>& tests() {
  static const std::unordered_map<std::string, TestEntry> table = {
      {"defined", {t_defined, false}},
      {"undefined", {t_undefined, false}},
      {"none", {t_none, false}},
      {"string", {t_string, false}},
      {"number", {t_number, false}},
      {"integer", {t_integer, false}},
      {"float", {t_float, false}},
      {"mapping", {t_mapping, false}},
      {"iterable", {t_iterable, false}},
      {"sequence", {t_sequence, false}},
      {"boolean", {t_boolean, false}},
      {"true", {t_true, false}},
      {"false", {t_false, false}},
      {"callable", {t_callable, false}},
      {"odd", {t_odd, false}},
      {"even", {t_even, false}},
      {"lower", {t_lower, false}},
      {"upper", {t_upper, false}},
      {"equalto", {t_eq, true}},
      {"eq", {t_eq, true}},
      {"==", {t_eq, true}},
      {"ne", {t_ne, true}},
      {"!=", {t_ne, true}},
      {"lt", {t_lt, true}},
      {"lessthan", {t_lt, true}},
      {"<", {t_lt, true}},
      {"gt", {t_gt, true}},
      {"greaterthan", {t_gt, true}},
      {">", {t_gt, true}},
      {"le", {t_le, true}},
      {"<=", {t_le, true}},
      {"ge", {t_ge, true}},
      {">=", {t_ge, true}},
      {"in", {t_in, true}},
      {"sameas", {t_sameas, true}},
      {"divisibleby", {t_divisibleby, true}},
  };
  return table;
}

}  // namespace

bool has_test(std::string_view name) {
  return tests().count(std::string(name)) > 0;
}

bool test_takes_argument(std::string_view name) {
  auto it = tests().find(std::string(name));
  return it != tests().end() && it->second.takes_argument;
}

bool apply_test(Interpreter& in, const std::string& name, const Value& input, CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) throw TemplateError("no test named '" + name + "'");
  return it->second.fn(in, input, args);
}

}  // namespace rbees::chat
