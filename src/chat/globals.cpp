// jinja2's global functions that chat templates call: range(), dict() and namespace().
#include "chat/builtins.hpp"
#include "chat/interpreter.hpp"
#include "chat/template_error.hpp"

namespace rbees::chat {
namespace {

int64_t int_argument(const Value& v) {
  if (!v.is_int() && !v.is_bool())
    throw TemplateError("'" + v.type_name() + "' object cannot be interpreted as an integer");
  return v.as_int();
}

}  // namespace

void add_builtin_globals(Scope& globals, const Limits& limits) {
  const size_t max_items = limits.max_items;
  globals.set(
      "range", Value::callable("range", [max_items](CallArgs& a) {
        if (a.args.empty() || a.args.size() > 3) throw TemplateError("range expected 1 to 3 arguments");
        int64_t start = 0, stop, step = 1;
        if (a.args.size() == 1) {
          stop = int_argument(a.args[0]);
        } else {
          start = int_argument(a.args[0]);
          stop = int_argument(a.args[1]);
          if (a.args.size() == 3) step = int_argument(a.args[2]);
        }
        if (step == 0) throw TemplateError("range() arg 3 must not be zero");
        const __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
        const __int128 count = span <= 0 ? 0 : (span + (step > 0 ? step : -step) - 1) / (step > 0 ? step : -step);
        if (count > static_cast<__int128>(max_items)) throw TemplateError("range too large");
        Array out;
        out.reserve(static_cast<size_t>(count));
        for (__int128 i = 0; i < count; ++i) out.push_back(Value::integer(static_cast<int64_t>(start + i * step)));
        return Value::array(std::move(out));
      }));
  globals.set("dict", Value::callable("dict", [](CallArgs& a) {
                Value d = Value::object();
                for (const Value& arg : a.args) {
                  if (!arg.is_object()) throw TemplateError("dict() positional argument must be a mapping");
                  for (const auto& [k, v] : arg.as_object().entries) d.as_object().set(k, v);
                }
                for (const auto& [k, v] : a.kwargs) d.as_object().set(k, v);
                return d;
              }));
  globals.set("namespace", Value::callable("namespace", [](CallArgs& a) {
                Value ns = Value::namespace_object();
                for (const Value& arg : a.args) {
                  if (!arg.is_object()) throw TemplateError("namespace() positional argument must be a mapping");
                  for (const auto& [k, v] : arg.as_object().entries) ns.as_object().set(k, v);
                }
                for (const auto& [k, v] : a.kwargs) ns.as_object().set(k, v);
                return ns;
              }));
}

}  // namespace rbees::chat
