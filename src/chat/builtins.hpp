#pragma once
// Jinja's built-in filters, tests, global functions and the methods of str, list and dict values.

#include "chat/value.hpp"

#include <string>
#include <string_view>

namespace rbees::chat {

class Interpreter;
class Scope;
struct Limits;

bool has_filter(std::string_view name);
bool has_test(std::string_view name);
// Whether a test takes an argument, which may then be written without parentheses (`is divisibleby 3`).
bool test_takes_argument(std::string_view name);

Value apply_filter(Interpreter& in, const std::string& name, const Value& input, CallArgs& args);
bool apply_test(Interpreter& in, const std::string& name, const Value& input, CallArgs& args);

// A bound method (`"a b".split`, `d.items`, `ns.list.append`), or undefined when there is none.
Value method_of(Interpreter& in, const Value& self, const std::string& name);

// range(), dict(), namespace() (the jinja2 globals that chat templates use).
void add_builtin_globals(Scope& globals, const Limits& limits);

// Python str(), lower-cased when case-insensitive comparison is asked for.
Value sort_key(const Value& v, bool case_sensitive);

}  // namespace rbees::chat
