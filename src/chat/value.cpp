#include "chat/value.hpp"

#include "chat/template_error.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iterator>

namespace rbees::chat {
namespace {

constexpr int kMaxNesting = 256;

void check_depth(int depth) {
  if (depth > kMaxNesting) throw TemplateError("value nested too deeply (or cyclic)");
}

void append_repr(std::string& out, const Value& v, int depth);

void append_repr_array(std::string& out, const Array& a, int depth) {
  out += '[';
  for (size_t i = 0; i < a.size(); ++i) {
    if (i) out += ", ";
    append_repr(out, a[i], depth + 1);
  }
  out += ']';
}

void append_repr_object(std::string& out, const Object& o, int depth) {
  if (o.is_namespace) {
    out += "<Namespace {";
  } else {
    out += '{';
  }
  for (size_t i = 0; i < o.entries.size(); ++i) {
    if (i) out += ", ";
    out += python_string_repr(o.entries[i].first);
    out += ": ";
    append_repr(out, o.entries[i].second, depth + 1);
  }
  out += o.is_namespace ? "}>" : "}";
}

void append_repr(std::string& out, const Value& v, int depth) {
  check_depth(depth);
  switch (v.type()) {
    case Value::Type::kString: out += python_string_repr(v.as_string()); break;
    case Value::Type::kArray: append_repr_array(out, v.as_array(), depth); break;
    case Value::Type::kObject: append_repr_object(out, v.as_object(), depth); break;
    default: out += v.str();
  }
}

// Lists and dicts nested a million deep would overflow the stack if each freed its children
// recursively; the deleters below queue child containers and free them in a loop instead.
thread_local bool draining = false;
thread_local std::vector<Value> pending_release;

void drain() {
  if (draining) return;
  draining = true;
  while (!pending_release.empty()) {
    Value v = std::move(pending_release.back());
    pending_release.pop_back();
  }
  draining = false;
}

void queue_children(std::vector<Value>& values) {
  for (Value& v : values) {
    if (v.is_array() || v.is_object() || v.is_callable()) pending_release.push_back(std::move(v));
  }
}

void delete_array(Array* a) {
  queue_children(*a);
  delete a;
  drain();
}

void delete_object(Object* o) {
  std::vector<Value> children;
  for (auto& [_, v] : o->entries) children.push_back(std::move(v));
  queue_children(children);
  delete o;
  drain();
}

}  // namespace

Value Value::undefined(std::string name) {
  Value v;
  v.data_ = UndefinedTag{std::move(name)};
  return v;
}
Value Value::none() {
  Value v;
  v.data_ = NoneTag{};
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.data_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.data_ = i;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.data_ = d;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.data_ = std::move(s);
  return v;
}
Value Value::array(Array items) {
  Value v;
  auto a = std::shared_ptr<Array>(new Array(std::move(items)), delete_array);
  ValueArena::track(a);
  v.data_ = std::move(a);
  return v;
}
Value Value::object() {
  Value v;
  auto o = std::shared_ptr<Object>(new Object(), delete_object);
  ValueArena::track(o);
  v.data_ = std::move(o);
  return v;
}
Value Value::namespace_object() {
  Value v = object();
  v.as_object().is_namespace = true;
  return v;
}
Value Value::callable(std::string name, std::function<Value(CallArgs&)> fn) {
  Value v;
  // Not make_shared: the arena's weak reference would keep the whole object's memory.
  auto c = std::shared_ptr<Callable>(new Callable{std::move(name), std::move(fn)});
  ValueArena::track(c);
  v.data_ = std::move(c);
  return v;
}

namespace {
thread_local ValueArena* current_arena = nullptr;

template <typename T>
void drop_expired(std::vector<std::weak_ptr<T>>& v) {
  std::erase_if(v, [](const std::weak_ptr<T>& w) { return w.expired(); });
}
}  // namespace

ValueArena::ValueArena() : outer_(current_arena) {
  current_arena = this;
}

ValueArena::~ValueArena() {
  current_arena = outer_;
  // Contents are moved out of every live container first and freed only once all are empty, so
  // freeing never follows a cycle (nor recurses through deep nesting: the deleters queue children).
  std::vector<Value> contents;
  std::vector<std::function<Value(CallArgs&)>> functions;
  for (auto& w : arrays_) {
    if (auto a = w.lock()) {
      std::move(a->begin(), a->end(), std::back_inserter(contents));
      a->clear();
    }
  }
  for (auto& w : objects_) {
    if (auto o = w.lock()) {
      for (auto& entry : o->entries) contents.push_back(std::move(entry.second));
      o->entries.clear();
      o->index.clear();
    }
  }
  for (auto& w : callables_) {
    if (auto c = w.lock()) functions.push_back(std::exchange(c->fn, nullptr));
  }
}

// The records of containers already freed are dropped whenever the lists have doubled, so a long
// render that creates many short-lived values keeps memory in proportion to the live ones.
void ValueArena::prune() {
  if (arrays_.size() + objects_.size() + callables_.size() < next_prune_) return;
  drop_expired(arrays_);
  drop_expired(objects_);
  drop_expired(callables_);
  next_prune_ = std::max<size_t>(4096, 2 * (arrays_.size() + objects_.size() + callables_.size()));
}

void ValueArena::track(const std::shared_ptr<Array>& a) {
  if (!current_arena) return;
  current_arena->arrays_.push_back(a);
  current_arena->prune();
}
void ValueArena::track(const std::shared_ptr<Object>& o) {
  if (!current_arena) return;
  current_arena->objects_.push_back(o);
  current_arena->prune();
}
void ValueArena::track(const std::shared_ptr<Callable>& c) {
  if (!current_arena) return;
  current_arena->callables_.push_back(c);
  current_arena->prune();
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  using J = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case J::null: return none();
    case J::boolean: return boolean(j.get<bool>());
    case J::number_integer: return integer(j.get<int64_t>());
    case J::number_unsigned: {
      auto u = j.get<uint64_t>();
      return u > static_cast<uint64_t>(INT64_MAX) ? number(static_cast<double>(u)) : integer(static_cast<int64_t>(u));
    }
    case J::number_float: return number(j.get<double>());
    case J::string: return string(j.get<std::string>());
    case J::array: {
      Array items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e));
      return array(std::move(items));
    }
    case J::object: {
      Value v = object();
      for (const auto& [k, e] : j.items()) v.as_object().set(k, from_json(e));
      return v;
    }
    default: return none();  // binary and discarded values do not occur in parsed JSON
  }
}

int64_t Value::as_int() const {
  if (is_bool()) return as_bool() ? 1 : 0;
  return std::get<int64_t>(data_);
}

double Value::as_double() const {
  if (is_float()) return std::get<double>(data_);
  return static_cast<double>(as_int());
}

const void* Value::identity() const {
  switch (type()) {
    case Type::kArray: return std::get<std::shared_ptr<Array>>(data_).get();
    case Type::kObject: return std::get<std::shared_ptr<Object>>(data_).get();
    case Type::kCallable: return std::get<std::shared_ptr<Callable>>(data_).get();
    default: return nullptr;
  }
}

bool Value::truthy() const {
  switch (type()) {
    case Type::kUndefined:
    case Type::kNone: return false;
    case Type::kBool: return as_bool();
    case Type::kInt: return as_int() != 0;
    case Type::kFloat: return as_double() != 0.0;
    case Type::kString: return !as_string().empty();
    case Type::kArray: return !as_array().empty();
    case Type::kObject: return as_object().is_namespace || !as_object().entries.empty();  // a namespace is an object
    case Type::kCallable: return true;
  }
  return false;
}

std::string Value::str() const {
  switch (type()) {
    case Type::kUndefined: return "";
    case Type::kNone: return "None";
    case Type::kBool: return as_bool() ? "True" : "False";
    case Type::kInt: return std::to_string(as_int());
    case Type::kFloat: return python_float_repr(as_double());
    case Type::kString: return as_string();
    case Type::kCallable: return "<function " + as_callable().name + ">";
    default: {
      std::string out;
      append_repr(out, *this, 0);
      return out;
    }
  }
}

std::string Value::repr() const {
  std::string out;
  append_repr(out, *this, 0);
  return out;
}

std::string Value::type_name() const {
  switch (type()) {
    case Type::kUndefined: return "Undefined";
    case Type::kNone: return "NoneType";
    case Type::kBool: return "bool";
    case Type::kInt: return "int";
    case Type::kFloat: return "float";
    case Type::kString: return "str";
    case Type::kArray: return "list";
    case Type::kObject: return as_object().is_namespace ? "Namespace" : "dict";
    case Type::kCallable: return "function";
  }
  return "object";
}

const Value* Object::find(const std::string& key) const {
  auto it = index.find(key);
  return it == index.end() ? nullptr : &entries[it->second].second;
}

void Object::set(const std::string& key, Value value) {
  auto it = index.find(key);
  if (it != index.end()) {
    entries[it->second].second = std::move(value);
    return;
  }
  index.emplace(key, entries.size());
  entries.emplace_back(key, std::move(value));
}

const Value* CallArgs::kwarg(std::string_view name) const {
  for (const auto& [k, v] : kwargs) {
    if (k == name) return &v;
  }
  return nullptr;
}

Value CallArgs::get(size_t pos, std::string_view name, Value fallback) const {
  if (pos < args.size()) return args[pos];
  if (const Value* v = kwarg(name)) return *v;
  return fallback;
}

bool values_equal(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::Type::kUndefined:
    case Value::Type::kNone: return true;
    case Value::Type::kString: return a.as_string() == b.as_string();
    case Value::Type::kArray: {
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      if (&x == &y) return true;
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!values_equal(x[i], y[i], depth + 1)) return false;
      }
      return true;
    }
    case Value::Type::kObject: {
      const Object& x = a.as_object();
      const Object& y = b.as_object();
      if (&x == &y) return true;
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* w = y.find(k);
        if (!w || !values_equal(v, *w, depth + 1)) return false;
      }
      return true;
    }
    default: return a.identity() == b.identity();
  }
}

bool values_less(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // UTF-8 order is code-point order
  if (a.is_array() && b.is_array()) {
    const Array& x = a.as_array();
    const Array& y = b.as_array();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (values_less(x[i], y[i], depth + 1)) return true;
      if (values_less(y[i], x[i], depth + 1)) return false;
    }
    return x.size() < y.size();
  }
  throw TemplateError("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // shortest round-trip digits, e.g. "-1.25e+02"
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e_pos; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  int exp = std::stoi(sci.substr(e_pos + 1));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      if (digits.size() <= static_cast<size_t>(exp) + 1) {
        out = digits + std::string(exp + 1 - digits.size(), '0') + ".0";
      } else {
        out = digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
      }
    } else {
      out = "0." + std::string(-exp - 1, '0') + digits;
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  }
  return sign + out;
}

std::string python_string_repr(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

}  // namespace rbees::chat
