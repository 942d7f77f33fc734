#include "chat/interpreter.hpp"

#include "chat/builtins.hpp"
#include "chat/template_error.hpp"
#include "chat/utf8.hpp"

#include <cmath>
#include <limits>

namespace rbees::chat {
namespace {

[[noreturn]] void fail_at(int line, const std::string& msg) {
  throw TemplateError(line > 0 ? "line " + std::to_string(line) + ": " + msg : msg);
}

[[noreturn]] void undefined_error(const Value& v) {
  const std::string& name = v.undefined_name();
  throw TemplateError(name.empty() ? "value is undefined" : "'" + name + "' is undefined");
}

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  throw TemplateError("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() +
                      "'");
}

int64_t checked(bool overflow, const int64_t& v) {
  if (overflow) throw TemplateError("integer overflow");
  return v;
}

double float_mod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

Value repeat(Interpreter& in, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(n) > in.limits().max_output_bytes / s.size()) {
      throw TemplateError("string too long");
    }
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += s;
    return Value::string(std::move(out));
  }
  const Array& a = seq.as_array();
  if (!a.empty() && static_cast<uint64_t>(n) > in.limits().max_items / a.size()) throw TemplateError("list too long");
  Array out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), a.begin(), a.end());
  return Value::array(std::move(out));
}

bool contains(Interpreter& in, const Value& container, const Value& item) {
  switch (container.type()) {
    case Value::Type::kString:
      if (!item.is_string()) {
        throw TemplateError("'in <string>' requires string as left operand, not " + item.type_name());
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Type::kArray:
      for (const Value& v : container.as_array()) {
        if (values_equal(v, item)) return true;
      }
      return false;
    case Value::Type::kObject: return item.is_string() && container.as_object().find(item.as_string()) != nullptr;
    case Value::Type::kUndefined: return false;
    default: (void)in; throw TemplateError("argument of type '" + container.type_name() + "' is not iterable");
  }
}

}  // namespace

const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent_.get()) {
    auto it = s->vars_.find(name);
    if (it != s->vars_.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::DepthGuard::DepthGuard(Interpreter& in) : in(in) {
  if (++in.depth_ > in.limits_.max_depth) {
    --in.depth_;
    throw TemplateError("maximum recursion depth exceeded");
  }
}

Interpreter::Interpreter(const Limits& limits, std::shared_ptr<Scope> globals)
    : limits_(limits), globals_(std::move(globals)) {}

std::string Interpreter::render(const Body& body) {
  auto scope = std::make_shared<Scope>(globals_);
  return capture(body, scope);
}

void Interpreter::count_iterations(uint64_t n) {
  iterations_ += n;
  if (iterations_ > limits_.max_iterations) throw TemplateError("too many loop iterations or macro calls");
}

void Interpreter::check_items(size_t n) const {
  if (n > limits_.max_items) throw TemplateError("list too long");
}

void Interpreter::check_string(size_t bytes) const {
  if (bytes > limits_.max_output_bytes) throw TemplateError("string too long");
}

void Interpreter::emit(const std::string& text) {
  if (out_->size() + text.size() > limits_.max_output_bytes) throw TemplateError("output too large");
  *out_ += text;
}

std::string Interpreter::capture(const Body& body, const std::shared_ptr<Scope>& scope) {
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  try {
    exec_body(body, scope);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buffer;
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const std::shared_ptr<Scope>& scope) {
  for (const auto& s : body) {
    Flow f = exec(*s, scope);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Stmt& s, const std::shared_ptr<Scope>& scope) {
  DepthGuard guard(*this);
  switch (s.kind) {
    case StmtKind::kText: emit(s.text); return Flow::kNormal;
    case StmtKind::kOutput: emit(eval(*s.expr, scope).str()); return Flow::kNormal;
    case StmtKind::kIf:
      for (const auto& [cond, body] : s.branches) {
        if (eval(*cond, scope).truthy()) return exec_body(body, scope);
      }
      return exec_body(s.else_body, scope);
    case StmtKind::kFor: return exec_for(s, scope);
    case StmtKind::kSet: exec_set(s, scope); return Flow::kNormal;
    case StmtKind::kSetBlock: {
      Value v = Value::string(capture(s.body, scope));
      if (s.filter) {
        const Value* saved = filter_block_input_;
        filter_block_input_ = &v;
        Value filtered = eval(*s.filter, scope);
        filter_block_input_ = saved;
        v = std::move(filtered);
      }
      scope->set(s.targets[0], std::move(v));
      return Flow::kNormal;
    }
    case StmtKind::kMacro: scope->set(s.name, make_macro(s, scope)); return Flow::kNormal;
    case StmtKind::kCallBlock: {
      Value caller = make_macro(s, scope);
      const Expr& call = *s.expr;
      Value callee = eval(*call.a, scope);
      CallArgs args;
      eval_args(call, scope, args);
      args.kwargs.emplace_back("caller", std::move(caller));
      emit(this->call(callee, args, s.line).str());
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock: {
      Value body = Value::string(capture(s.body, scope));
      const Value* saved = filter_block_input_;
      filter_block_input_ = &body;
      Value filtered = eval(*s.filter, scope);
      filter_block_input_ = saved;
      emit(filtered.str());
      return Flow::kNormal;
    }
    case StmtKind::kScope: {
      auto inner = std::make_shared<Scope>(scope);
      for (const auto& [name, expr] : s.params) inner->set(name, eval(*expr, scope));
      return exec_body(s.body, inner);
    }
    case StmtKind::kBreak: return Flow::kBreak;
    case StmtKind::kContinue: return Flow::kContinue;
    case StmtKind::kDo: eval(*s.expr, scope); return Flow::kNormal;
  }
  return Flow::kNormal;
}

std::vector<Value> Interpreter::iterate(const Value& v) const {
  switch (v.type()) {
    case Value::Type::kUndefined: return {};
    case Value::Type::kArray: return v.as_array();
    case Value::Type::kObject: {
      std::vector<Value> keys;
      for (const auto& [k, _] : v.as_object().entries) keys.push_back(Value::string(k));
      return keys;
    }
    case Value::Type::kString: {
      std::vector<Value> chars;
      for (auto& u : utf8::units(v.as_string())) chars.push_back(Value::string(std::move(u)));
      return chars;
    }
    default: throw TemplateError("'" + v.type_name() + "' object is not iterable");
  }
}

void Interpreter::assign_targets(Scope& scope, const std::vector<std::string>& targets, const Value& v, int line) {
  if (targets.size() == 1) {
    scope.set(targets[0], v);
    return;
  }
  std::vector<Value> items = iterate(v);
  if (items.size() != targets.size()) {
    fail_at(line, "cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(targets.size()) +
                      " names");
  }
  for (size_t i = 0; i < targets.size(); ++i) scope.set(targets[i], items[i]);
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope) {
  Value iterable = eval(*s.expr, scope);
  std::vector<Value> items;
  try {
    items = iterate(iterable);
  } catch (const TemplateError& e) {
    fail_at(s.line, e.what());
  }
  if (s.cond) {
    std::vector<Value> kept;
    for (Value& item : items) {
      count_iterations(1);
      auto probe = std::make_shared<Scope>(scope);
      assign_targets(*probe, s.targets, item, s.line);
      if (eval(*s.cond, probe).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec_body(s.else_body, scope);

  const int64_t n = static_cast<int64_t>(items.size());
  const Value* outer = scope->find("loop");
  const int64_t depth0 = outer && outer->is_object() && outer->as_object().find("depth0")
                             ? outer->as_object().find("depth0")->as_int() + 1
                             : 0;
  // One loop object per loop, updated in place each iteration, like jinja2's LoopContext.
  Value loop = Value::object();
  Object& o = loop.as_object();
  auto position = std::make_shared<int64_t>(0);
  o.set("length", Value::integer(n));
  o.set("depth", Value::integer(depth0 + 1));
  o.set("depth0", Value::integer(depth0));
  o.set("cycle", Value::callable("cycle", [position](CallArgs& args) {
          if (args.args.empty()) throw TemplateError("no items for cycling given");
          return args.args[static_cast<size_t>(*position) % args.args.size()];
        }));
  for (int64_t i = 0; i < n; ++i) {
    count_iterations(1);
    *position = i;
    o.set("index", Value::integer(i + 1));
    o.set("index0", Value::integer(i));
    o.set("revindex", Value::integer(n - i));
    o.set("revindex0", Value::integer(n - i - 1));
    o.set("first", Value::boolean(i == 0));
    o.set("last", Value::boolean(i == n - 1));
    o.set("previtem", i > 0 ? items[i - 1] : Value::undefined("previtem"));
    o.set("nextitem", i + 1 < n ? items[i + 1] : Value::undefined("nextitem"));
    auto inner = std::make_shared<Scope>(scope);
    assign_targets(*inner, s.targets, items[i], s.line);
    inner->set("loop", loop);
    if (exec_body(s.body, inner) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Interpreter::exec_set(const Stmt& s, const std::shared_ptr<Scope>& scope) {
  Value v = eval(*s.expr, scope);
  if (!s.attr.empty()) {
    const Value* target = scope->find(s.targets[0]);
    if (!target || !target->is_object() || !target->as_object().is_namespace) {
      fail_at(s.line, "cannot assign attribute on non-namespace object");
    }
    target->as_object().set(s.attr, std::move(v));
    return;
  }
  assign_targets(*scope, s.targets, v, s.line);
}

Value Interpreter::make_macro(const Stmt& s, const std::shared_ptr<Scope>& scope) {
  std::weak_ptr<Scope> defining = scope;
  const Stmt* stmt = &s;
  const std::string name = s.kind == StmtKind::kMacro ? s.name : "caller";
  return Value::callable(name, [this, stmt, defining, name](CallArgs& args) {
    DepthGuard guard(*this);
    count_iterations(1);
    std::shared_ptr<Scope> parent = defining.lock();
    auto local = std::make_shared<Scope>(parent ? parent : globals_);
    const auto& params = stmt->params;
    if (args.args.size() > params.size()) {
      fail_at(stmt->line, "macro '" + name + "' takes not more than " + std::to_string(params.size()) + " argument(s)");
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const Value* kw = args.kwarg(params[i].first);
      if (i < args.args.size()) {
        if (kw) fail_at(stmt->line, "macro '" + name + "' got multiple values for argument '" + params[i].first + "'");
        local->set(params[i].first, args.args[i]);
      } else if (kw) {
        local->set(params[i].first, *kw);
      } else if (params[i].second) {
        local->set(params[i].first, eval(*params[i].second, local));
      } else {
        local->set(params[i].first, Value::undefined(params[i].first));
      }
    }
    for (const auto& [key, value] : args.kwargs) {
      bool known = key == "caller";
      for (const auto& p : params) known = known || p.first == key;
      if (!known) fail_at(stmt->line, "macro '" + name + "' takes no keyword argument '" + key + "'");
      if (key == "caller") local->set("caller", value);
    }
    return Value::string(capture(stmt->body, local));
  });
}

Value Interpreter::call(const Value& callee, CallArgs& args, int line) {
  if (callee.is_undefined()) {
    const std::string& name = callee.undefined_name();
    fail_at(line, name.empty() ? "value is undefined and cannot be called" : "'" + name + "' is undefined");
  }
  if (!callee.is_callable()) fail_at(line, "'" + callee.type_name() + "' object is not callable");
  DepthGuard guard(*this);
  return callee.as_callable().fn(args);
}

void Interpreter::eval_args(const Expr& e, const std::shared_ptr<Scope>& scope, CallArgs& args) {
  for (const auto& item : e.items) args.args.push_back(eval(*item, scope));
  for (const auto& [k, v] : e.kwargs) args.kwargs.emplace_back(k, eval(*v, scope));
}

Value Interpreter::get_attr(const Value& obj, const std::string& name) {
  if (obj.is_object()) {
    const Object& o = obj.as_object();
    if (!o.is_namespace && (name == "items" || name == "keys" || name == "values" || name == "get")) {
      return method_of(*this, obj, name);
    }
    if (const Value* v = o.find(name)) return *v;
    return Value::undefined(name);
  }
  if (obj.is_string() || obj.is_array()) {
    Value m = method_of(*this, obj, name);
    if (!m.is_undefined()) return m;
  }
  return Value::undefined(name);
}

Value Interpreter::get_item(const Value& obj, const Value& key) {
  if (obj.is_array() && (key.is_int() || key.is_bool())) {
    const Array& a = obj.as_array();
    int64_t i = key.as_int();
    if (i < 0) i += static_cast<int64_t>(a.size());
    if (i < 0 || i >= static_cast<int64_t>(a.size())) return Value::undefined();
    return a[static_cast<size_t>(i)];
  }
  if (obj.is_object()) {
    if (key.is_string()) {
      if (const Value* v = obj.as_object().find(key.as_string())) return *v;
      return Value::undefined(key.as_string());
    }
    if (key.is_number() || key.is_none()) {
      if (const Value* v = obj.as_object().find(key.str())) return *v;
    }
    return Value::undefined();
  }
  if (obj.is_string() && (key.is_int() || key.is_bool())) {
    auto units = utf8::units(obj.as_string());
    int64_t i = key.as_int();
    if (i < 0) i += static_cast<int64_t>(units.size());
    if (i < 0 || i >= static_cast<int64_t>(units.size())) return Value::undefined();
    return Value::string(units[static_cast<size_t>(i)]);
  }
  if (key.is_string() && (obj.is_array() || obj.is_string())) return get_attr(obj, key.as_string());
  return Value::undefined();
}

Value Interpreter::eval_slice(const Expr& e, const std::shared_ptr<Scope>& scope) {
  Value obj = eval(*e.a, scope);
  auto bound = [&](const ExprPtr& p) -> std::optional<int64_t> {
    if (!p) return std::nullopt;
    Value v = eval(*p, scope);
    if (v.is_none()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) fail_at(e.line, "slice indices must be integers or None");
    return v.as_int();
  };
  const std::optional<int64_t> start_arg = bound(e.b), stop_arg = bound(e.c), step_arg = bound(e.d);
  const int64_t step = step_arg.value_or(1);
  if (step == 0) fail_at(e.line, "slice step cannot be zero");

  std::vector<std::string> units;
  const Array* arr = nullptr;
  if (obj.is_string()) {
    units = utf8::units(obj.as_string());
  } else if (obj.is_array()) {
    arr = &obj.as_array();
  } else if (obj.is_undefined()) {
    return Value::undefined();
  } else {
    fail_at(e.line, "'" + obj.type_name() + "' object is not subscriptable");
  }
  const int64_t n = static_cast<int64_t>(arr ? arr->size() : units.size());
  auto clamp = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t start = clamp(start_arg, step < 0 ? n - 1 : 0);
  const int64_t stop = clamp(stop_arg, step < 0 ? -1 : n);
  if (arr) {
    Array out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back((*arr)[static_cast<size_t>(i)]);
    return Value::array(std::move(out));
  }
  std::string out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out += units[static_cast<size_t>(i)];
  return Value::string(std::move(out));
}

Value Interpreter::eval_filter(const Expr& e, const std::shared_ptr<Scope>& scope) {
  Value input;
  if (e.a) {
    input = eval(*e.a, scope);
  } else if (filter_block_input_) {
    input = *filter_block_input_;
  }
  CallArgs args;
  eval_args(e, scope, args);
  try {
    return apply_filter(*this, e.name, input, args);
  } catch (const TemplateError& err) {
    const std::string msg = err.what();
    if (msg.rfind("line ", 0) == 0) throw;
    fail_at(e.line, msg);
  }
}

Value Interpreter::eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
  DepthGuard guard(*this);
  switch (e.kind) {
    case ExprKind::kLiteral: return e.literal;
    case ExprKind::kName: {
      if (const Value* v = scope->find(e.name)) return *v;
      return Value::undefined(e.name);
    }
    case ExprKind::kList:
    case ExprKind::kTuple: {
      Array items;
      for (const auto& item : e.items) items.push_back(eval(*item, scope));
      return Value::array(std::move(items));
    }
    case ExprKind::kDict: {
      Value d = Value::object();
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value k = eval(*e.items[i], scope);
        Value v = eval(*e.items[i + 1], scope);
        if (!k.is_string() && !k.is_number() && !k.is_none())
          fail_at(e.line, "unhashable type: '" + k.type_name() + "'");
        d.as_object().set(k.str(), std::move(v));
      }
      return d;
    }
    case ExprKind::kAttr: return get_attr(eval(*e.a, scope), e.name);
    case ExprKind::kItem: {
      Value obj = eval(*e.a, scope);
      return get_item(obj, eval(*e.b, scope));
    }
    case ExprKind::kSlice: return eval_slice(e, scope);
    case ExprKind::kCall: {
      Value callee = eval(*e.a, scope);
      CallArgs args;
      eval_args(e, scope, args);
      return call(callee, args, e.line);
    }
    case ExprKind::kFilter: return eval_filter(e, scope);
    case ExprKind::kTest: {
      Value input = eval(*e.a, scope);
      CallArgs args;
      eval_args(e, scope, args);
      return Value::boolean(apply_test(*this, e.name, input, args) != e.negated);
    }
    case ExprKind::kUnary: {
      Value v = eval(*e.a, scope);
      if (v.is_undefined()) undefined_error(v);
      if (!v.is_number()) fail_at(e.line, "bad operand type for unary " + e.name + ": '" + v.type_name() + "'");
      if (e.name == "+") return v.is_bool() ? Value::integer(v.as_int()) : v;
      if (v.is_float()) return Value::number(-v.as_double());
      if (v.as_int() == std::numeric_limits<int64_t>::min()) fail_at(e.line, "integer overflow");
      return Value::integer(-v.as_int());
    }
    case ExprKind::kBinary: return eval_binary(e, scope);
    case ExprKind::kAnd: {
      Value a = eval(*e.a, scope);
      return a.truthy() ? eval(*e.b, scope) : a;
    }
    case ExprKind::kOr: {
      Value a = eval(*e.a, scope);
      return a.truthy() ? a : eval(*e.b, scope);
    }
    case ExprKind::kNot: return Value::boolean(!eval(*e.a, scope).truthy());
    case ExprKind::kConditional:
      if (eval(*e.b, scope).truthy()) return eval(*e.a, scope);
      return e.c ? eval(*e.c, scope) : Value::undefined();
  }
  return Value::undefined();
}

Value Interpreter::eval_binary(const Expr& e, const std::shared_ptr<Scope>& scope) {
  Value a = eval(*e.a, scope);
  Value b = eval(*e.b, scope);
  try {
    return binary_operator(*this, e.name, a, b);
  } catch (const TemplateError& err) {
    fail_at(e.line, err.what());
  }
}

Value binary_operator(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = a.str() + b.str();
    in.check_string(s.size());
    return Value::string(std::move(s));
  }
  if (op == "==") return Value::boolean(values_equal(a, b));
  if (op == "!=") return Value::boolean(!values_equal(a, b));
  if (op == "in") return Value::boolean(contains(in, b, a));
  if (op == "not in") return Value::boolean(!contains(in, b, a));
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  if (op == "<") return Value::boolean(values_less(a, b));
  if (op == ">") return Value::boolean(values_less(b, a));
  if (op == "<=") return Value::boolean(!values_less(b, a));
  if (op == ">=") return Value::boolean(!values_less(a, b));

  const bool nums = a.is_number() && b.is_number();
  const bool ints = nums && !a.is_float() && !b.is_float();
  if (op == "+") {
    if (ints) {
      int64_t r;
      return Value::integer(checked(__builtin_add_overflow(a.as_int(), b.as_int(), &r), r));
    }
    if (nums) return Value::number(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      in.check_string(a.as_string().size() + b.as_string().size());
      return Value::string(a.as_string() + b.as_string());
    }
    if (a.is_array() && b.is_array()) {
      in.check_items(a.as_array().size() + b.as_array().size());
      Array out = a.as_array();
      out.insert(out.end(), b.as_array().begin(), b.as_array().end());
      return Value::array(std::move(out));
    }
    unsupported(op, a, b);
  }
  if (op == "-") {
    if (ints) {
      int64_t r;
      return Value::integer(checked(__builtin_sub_overflow(a.as_int(), b.as_int(), &r), r));
    }
    if (nums) return Value::number(a.as_double() - b.as_double());
    unsupported(op, a, b);
  }
  if (op == "*") {
    if (ints) {
      int64_t r;
      return Value::integer(checked(__builtin_mul_overflow(a.as_int(), b.as_int(), &r), r));
    }
    if (nums) return Value::number(a.as_double() * b.as_double());
    if ((a.is_string() || a.is_array()) && (b.is_int() || b.is_bool())) return repeat(in, a, b.as_int());
    if ((b.is_string() || b.is_array()) && (a.is_int() || a.is_bool())) return repeat(in, b, a.as_int());
    unsupported(op, a, b);
  }
  if (op == "/") {
    if (!nums) unsupported(op, a, b);
    if (b.as_double() == 0) throw TemplateError("division by zero");
    return Value::number(a.as_double() / b.as_double());
  }
  if (op == "%" && a.is_string()) {  // printf-style formatting, as the `format` filter
    CallArgs args;
    if (b.is_array()) {
      args.args = b.as_array();
    } else {
      args.args.push_back(b);
    }
    return apply_filter(in, "format", a, args);
  }
  if (op == "//" || op == "%") {
    if (!nums) unsupported(op, a, b);
    if (b.as_double() == 0) throw TemplateError(op == "%" ? "modulo by zero" : "integer division or modulo by zero");
    if (ints) {
      const int64_t x = a.as_int(), y = b.as_int();
      if (x == std::numeric_limits<int64_t>::min() && y == -1) throw TemplateError("integer overflow");
      int64_t q = x / y, r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {
        q -= 1;
        r += y;
      }
      return Value::integer(op == "//" ? q : r);
    }
    const double x = a.as_double(), y = b.as_double();
    if (op == "%") return Value::number(float_mod(x, y));
    return Value::number(std::floor(x / y));
  }
  if (op == "**") {
    if (!nums) unsupported(op, a, b);
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), exp = b.as_int(), result = 1;
      while (exp > 0) {
        if ((exp & 1) && __builtin_mul_overflow(result, base, &result)) throw TemplateError("integer overflow");
        exp >>= 1;
        if (exp > 0 && __builtin_mul_overflow(base, base, &base)) throw TemplateError("integer overflow");
      }
      return Value::integer(result);
    }
    return Value::number(std::pow(a.as_double(), b.as_double()));
  }
  throw TemplateError("unknown operator '" + op + "'");
}

}  // namespace rbees::chat
