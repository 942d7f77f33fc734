#pragma once
// Syntax tree of a parsed template. Nodes are plain tagged structs; the interpreter switches on kind.

#include "chat/value.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rbees::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  kLiteral,      // literal
  kName,         // name
  kList,         // items
  kTuple,        // items
  kDict,         // items: key, value, key, value, ...
  kAttr,         // a.name
  kItem,         // a[b]
  kSlice,        // a[b:c:d], absent parts are null
  kCall,         // a(items, kwargs)
  kFilter,       // a | name(items, kwargs); a is null for the content of a filter block
  kTest,         // a is [not] name(items, kwargs)
  kUnary,        // name ("-" or "+") a
  kBinary,       // a name b, name in + - * / // % ** ~ == != < <= > >= in "not in"
  kAnd,          // a and b
  kOr,           // a or b
  kNot,          // not a
  kConditional,  // a if b else c (c may be null)
};

struct Expr {
  ExprKind kind;
  int line = 0;
  Value literal;
  std::string name;
  bool negated = false;
  ExprPtr a, b, c, d;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;

  Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;
  // Frees children iteratively: a long chain such as `x|trim|trim|...` must not recurse once per link.
  ~Expr();
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // branches (cond, body), else_body
  kFor,          // targets in expr [if cond]: body, else_body
  kSet,          // targets (or targets[0].attr) = expr
  kSetBlock,     // targets[0] = rendered body, passed through filter (may be null)
  kMacro,        // name(params): body
  kCallBlock,    // {% call(params) expr %} body: expr is a call that gets `caller`
  kFilterBlock,  // filter applied to the rendered body
  kScope,        // {% with %} / {% generation %}: body in a new scope after `params` assignments
  kBreak,
  kContinue,
  kDo,  // expr evaluated, result dropped
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr cond;
  ExprPtr filter;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<std::string> targets;
  std::string attr;
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters with defaults (null: none)
};

}  // namespace rbees::chat
