#pragma once
// Executes a parsed template. Scopes follow jinja2: a for-loop iteration, a macro call and {% with %}
// open a new scope; {% if %} does not; `set` writes to the innermost scope, which is why templates use
// namespace() to carry state out of loops. Every render is bounded (output size, loop iterations,
// recursion depth, container sizes) so that no template can exhaust the stack, memory or time.

#include "chat/ast.hpp"
#include "chat/value.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace rbees::chat {

struct Limits {
  size_t max_output_bytes = 16u << 20;  // also bounds every string a template builds
  uint64_t max_iterations = 1'000'000;  // loop iterations and macro calls, all together
  int max_depth = 500;                  // nested evaluation frames (statements, expressions, calls)
  size_t max_items = 1'000'000;         // elements of one list built by the template
};

class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent = nullptr) : parent_(std::move(parent)) {}
  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value) { vars_[name] = std::move(value); }

 private:
  std::unordered_map<std::string, Value> vars_;
  std::shared_ptr<Scope> parent_;
};

class Interpreter {
 public:
  Interpreter(const Limits& limits, std::shared_ptr<Scope> globals);

  // Renders a whole template; may be called once per Interpreter.
  std::string render(const Body& body);

  Value eval(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value call(const Value& callee, CallArgs& args, int line = 0);

  // Budget checks for builtins that build containers or strings or loop.
  void count_iterations(uint64_t n);
  void check_items(size_t n) const;
  void check_string(size_t bytes) const;
  const Limits& limits() const { return limits_; }

  // Helpers shared with builtins.
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  std::vector<Value> iterate(const Value& v) const;  // Python iteration; TemplateError if not iterable

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  struct DepthGuard {
    explicit DepthGuard(Interpreter& in);
    ~DepthGuard() { --in.depth_; }
    Interpreter& in;
  };

  Flow exec_body(const Body& body, const std::shared_ptr<Scope>& scope);
  Flow exec(const Stmt& s, const std::shared_ptr<Scope>& scope);
  Flow exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope);
  void exec_set(const Stmt& s, const std::shared_ptr<Scope>& scope);
  Value make_macro(const Stmt& s, const std::shared_ptr<Scope>& scope);
  std::string capture(const Body& body, const std::shared_ptr<Scope>& scope);
  void emit(const std::string& text);
  void assign_targets(Scope& scope, const std::vector<std::string>& targets, const Value& v, int line);

  Value eval_binary(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value eval_slice(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value eval_filter(const Expr& e, const std::shared_ptr<Scope>& scope);
  void eval_args(const Expr& e, const std::shared_ptr<Scope>& scope, CallArgs& args);

  Limits limits_;
  std::shared_ptr<Scope> globals_;
  std::string* out_ = nullptr;
  uint64_t iterations_ = 0;
  int depth_ = 0;
  const Value* filter_block_input_ = nullptr;
};

// Python binary operators over values; TemplateError for unsupported operand types.
Value binary_operator(Interpreter& in, const std::string& op, const Value& a, const Value& b);

}  // namespace rbees::chat
