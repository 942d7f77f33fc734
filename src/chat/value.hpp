#pragma once
// The template engine's data model: Python-like values (None, bool, int, float, str, list, dict)
// plus Jinja's Undefined and callables (macros, bound methods, globals). Lists and dicts are shared by
// reference, as in Python, so that namespace attributes and list.append() mutate in place.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace rbees::chat {

class Value;
using Array = std::vector<Value>;

struct Object;
struct Callable;
struct CallArgs;

class Value {
 public:
  enum class Type { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kCallable };

  Value() = default;  // undefined
  static Value undefined(std::string name = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value array(Array items = {});
  static Value object();
  static Value namespace_object();
  static Value callable(std::string name, std::function<Value(CallArgs&)> fn);
  static Value from_json(const nlohmann::ordered_json& j);

  Type type() const { return static_cast<Type>(data_.index()); }
  bool is_undefined() const { return type() == Type::kUndefined; }
  bool is_none() const { return type() == Type::kNone; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_float() const { return type() == Type::kFloat; }
  // Python's numbers include bool.
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }
  bool is_callable() const { return type() == Type::kCallable; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const;    // int or bool
  double as_double() const;  // any number
  const std::string& as_string() const { return std::get<std::string>(data_); }
  Array& as_array() const { return *std::get<std::shared_ptr<Array>>(data_); }
  Object& as_object() const { return *std::get<std::shared_ptr<Object>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<Callable>>(data_); }
  const std::string& undefined_name() const { return std::get<UndefinedTag>(data_).name; }
  const void* identity() const;  // the shared container of a list, dict or callable

  bool truthy() const;
  std::string str() const;        // Python str(); undefined prints as ""
  std::string repr() const;       // Python repr()
  std::string type_name() const;  // Python's type name, for error messages

 private:
  struct UndefinedTag {
    std::string name;
  };
  struct NoneTag {};
  std::variant<UndefinedTag, NoneTag, bool, int64_t, double, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>, std::shared_ptr<Callable>>
      data_;
};

// Insertion-ordered dict with string keys (chat data comes from JSON, whose keys are strings).
struct Object {
  std::vector<std::pair<std::string, Value>> entries;
  std::unordered_map<std::string, size_t> index;
  bool is_namespace = false;

  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value value);
};

struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;

  const Value* kwarg(std::string_view name) const;
  // The argument at `pos` or named `name`, else `fallback`.
  Value get(size_t pos, std::string_view name, Value fallback = Value()) const;
};

struct Callable {
  std::string name;
  std::function<Value(CallArgs&)> fn;
};

// Lists, dicts and callables can hold each other in cycles (`{% set ns.self = ns %}`, `l.append(l)`,
// a bound method stored in its own list) that reference counting never frees. While a ValueArena is
// open on a thread, the containers created there are recorded; when it closes, those still alive are
// emptied, which breaks every cycle. Open one around a whole render: no value may outlive it intact.
class ValueArena {
 public:
  ValueArena();
  ~ValueArena();
  ValueArena(const ValueArena&) = delete;
  ValueArena& operator=(const ValueArena&) = delete;

 private:
  friend class Value;
  static void track(const std::shared_ptr<Array>& a);
  static void track(const std::shared_ptr<Object>& o);
  static void track(const std::shared_ptr<Callable>& c);
  void prune();

  ValueArena* outer_;
  std::vector<std::weak_ptr<Array>> arrays_;
  std::vector<std::weak_ptr<Object>> objects_;
  std::vector<std::weak_ptr<Callable>> callables_;
  size_t next_prune_ = 4096;
};

// Python ==, with 1 == 1.0 == True; recursion is bounded (cyclic lists raise TemplateError).
bool values_equal(const Value& a, const Value& b, int depth = 0);
// Python <; raises TemplateError for unorderable types.
bool values_less(const Value& a, const Value& b, int depth = 0);

std::string python_float_repr(double d);
std::string python_string_repr(const std::string& s);

}  // namespace rbees::chat
