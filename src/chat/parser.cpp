#include "chat/parser.hpp"

#include "chat/builtins.hpp"
#include "chat/template_error.hpp"

#include <algorithm>

namespace rbees::chat {

Expr::~Expr() {
  std::vector<ExprPtr> pending;
  auto detach = [&pending](Expr& e) {
    for (ExprPtr* child : {&e.a, &e.b, &e.c, &e.d}) {
      if (*child) pending.push_back(std::move(*child));
    }
    for (auto& item : e.items) pending.push_back(std::move(item));
    for (auto& kw : e.kwargs) pending.push_back(std::move(kw.second));
    e.items.clear();
    e.kwargs.clear();
  };
  detach(*this);
  while (!pending.empty()) {
    ExprPtr e = std::move(pending.back());
    pending.pop_back();
    if (e) detach(*e);
  }
}

namespace {

constexpr int kMaxParseDepth = 200;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body parse() {
    Body body = parse_body({}, nullptr);
    if (peek().type != TokenType::kEof) fail("unexpected tag");
    return body;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p(p) {
      if (++p.depth_ > kMaxParseDepth) p.fail("template nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
    Parser& p;
  };

  [[noreturn]] void fail(const std::string& msg) const {
    throw TemplateError("line " + std::to_string(peek().line) + ": " + msg);
  }

  const Token& peek(size_t ahead = 0) const { return toks_[std::min(pos_ + ahead, toks_.size() - 1)]; }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool is_op(const char* op, size_t ahead = 0) const {
    return peek(ahead).type == TokenType::kOp && peek(ahead).text == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).type == TokenType::kName && peek(ahead).text == name;
  }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail(std::string("expected '") + op + "', got '" + describe(peek()) + "'");
  }
  std::string expect_name() {
    if (peek().type != TokenType::kName) fail("expected a name, got '" + describe(peek()) + "'");
    return next().text;
  }
  void expect_block_end() {
    if (peek().type != TokenType::kBlockEnd) fail("expected end of statement block, got '" + describe(peek()) + "'");
    next();
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::kEof: return "end of template";
      case TokenType::kBlockEnd: return "%}";
      case TokenType::kVarEnd: return "}}";
      case TokenType::kText: return "text";
      default: return t.text;
    }
  }

  ExprPtr make(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // Parses statements until a block tag whose name is in `enders`; consumes "{% ender" and reports it.
  Body parse_body(const std::vector<std::string>& enders, std::string* found) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = peek();
      if (t.type == TokenType::kEof) {
        if (!enders.empty()) fail("unexpected end of template, expected '" + enders.back() + "'");
        return body;
      }
      if (t.type == TokenType::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kText;
        s->line = t.line;
        s->text = t.text;
        next();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::kVarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kOutput;
        s->line = t.line;
        next();
        s->expr = parse_expression();
        if (peek().type != TokenType::kVarEnd) fail("expected '}}', got '" + describe(peek()) + "'");
        next();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::kBlockBegin) {
        const Token& name = peek(1);
        if (name.type == TokenType::kName && std::find(enders.begin(), enders.end(), name.text) != enders.end()) {
          next();
          *found = next().text;
          return body;
        }
        next();
        body.push_back(parse_statement());
      } else {
        fail("unexpected '" + describe(t) + "'");
      }
    }
  }

  StmtPtr parse_statement() {
    auto s = std::make_unique<Stmt>();
    s->line = peek().line;
    if (peek().type != TokenType::kName) fail("expected a statement name, got '" + describe(peek()) + "'");
    const std::string tag = next().text;
    if (tag == "if") {
      parse_if(*s);
    } else if (tag == "for") {
      parse_for(*s);
    } else if (tag == "set") {
      parse_set(*s);
    } else if (tag == "macro") {
      s->kind = StmtKind::kMacro;
      s->name = expect_name();
      parse_params(*s);
      expect_block_end();
      parse_until(*s, "endmacro");
    } else if (tag == "call") {
      s->kind = StmtKind::kCallBlock;
      if (is_op("(")) parse_params(*s);
      s->expr = parse_expression();
      if (s->expr->kind != ExprKind::kCall) fail("expected a call after 'call'");
      expect_block_end();
      parse_until(*s, "endcall");
    } else if (tag == "filter") {
      s->kind = StmtKind::kFilterBlock;
      s->filter = parse_filter_chain(nullptr);
      expect_block_end();
      parse_until(*s, "endfilter");
    } else if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
      s->kind = tag == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      expect_block_end();
    } else if (tag == "generation") {
      s->kind = StmtKind::kScope;
      expect_block_end();
      parse_until(*s, "endgeneration");
    } else if (tag == "with") {
      s->kind = StmtKind::kScope;
      while (peek().type != TokenType::kBlockEnd) {
        if (!s->params.empty()) expect_op(",");
        std::string name = expect_name();
        expect_op("=");
        s->params.emplace_back(std::move(name), parse_expression());
      }
      expect_block_end();
      parse_until(*s, "endwith");
    } else if (tag == "do") {
      s->kind = StmtKind::kDo;
      s->expr = parse_expression();
      expect_block_end();
    } else {
      pos_ -= 1;
      fail("unknown or unsupported tag '" + tag + "'");
    }
    return s;
  }

  void parse_until(Stmt& s, const char* ender) {
    std::string found;
    s.body = parse_body({ender}, &found);
    expect_block_end();
  }

  void parse_if(Stmt& s) {
    s.kind = StmtKind::kIf;
    ExprPtr cond = parse_expression();
    expect_block_end();
    std::string found;
    Body body = parse_body({"elif", "else", "endif"}, &found);
    s.branches.emplace_back(std::move(cond), std::move(body));
    while (found == "elif") {
      cond = parse_expression();
      expect_block_end();
      body = parse_body({"elif", "else", "endif"}, &found);
      s.branches.emplace_back(std::move(cond), std::move(body));
    }
    if (found == "else") {
      expect_block_end();
      s.else_body = parse_body({"endif"}, &found);
    }
    expect_block_end();
  }

  void parse_targets(Stmt& s) {
    const bool paren = skip_op("(");
    s.targets.push_back(expect_name());
    while (skip_op(",")) {
      if (peek().type != TokenType::kName) break;
      s.targets.push_back(expect_name());
    }
    if (paren) expect_op(")");
  }

  void parse_for(Stmt& s) {
    s.kind = StmtKind::kFor;
    parse_targets(s);
    if (!skip_name("in")) fail("expected 'in' in for loop");
    s.expr = parse_or();
    if (skip_name("if")) s.cond = parse_expression();
    if (is_name("recursive")) fail("recursive loops are not supported");
    expect_block_end();
    ++loop_depth_;
    std::string found;
    s.body = parse_body({"else", "endfor"}, &found);
    --loop_depth_;
    if (found == "else") {
      expect_block_end();
      s.else_body = parse_body({"endfor"}, &found);
    }
    expect_block_end();
  }

  void parse_set(Stmt& s) {
    s.kind = StmtKind::kSet;
    if (peek().type == TokenType::kName && is_op(".", 1)) {
      s.targets.push_back(next().text);
      next();
      s.attr = expect_name();
    } else {
      parse_targets(s);
    }
    if (skip_op("=")) {
      s.expr = parse_expression();
      if (is_op(",")) {
        auto tuple = make(ExprKind::kTuple, s.line);
        tuple->items.push_back(std::move(s.expr));
        while (skip_op(",")) tuple->items.push_back(parse_expression());
        s.expr = std::move(tuple);
      }
      expect_block_end();
      return;
    }
    if (s.targets.size() != 1 || !s.attr.empty()) fail("expected '=' in set");
    s.kind = StmtKind::kSetBlock;
    if (is_op("|")) s.filter = parse_filter_chain(nullptr);
    expect_block_end();
    parse_until(s, "endset");
  }

  void parse_params(Stmt& s) {
    expect_op("(");
    while (!skip_op(")")) {
      if (!s.params.empty()) expect_op(",");
      if (skip_op(")")) break;
      std::string name = expect_name();
      ExprPtr def;
      if (skip_op("=")) def = parse_expression();
      s.params.emplace_back(std::move(name), std::move(def));
    }
  }

  ExprPtr parse_expression(bool with_conditional = true) {
    DepthGuard guard(*this);
    ExprPtr e = parse_or();
    if (!with_conditional) return e;
    while (is_name("if")) {
      const int line = next().line;
      auto cond = make(ExprKind::kConditional, line);
      cond->b = parse_or();
      if (skip_name("else")) cond->c = parse_expression();
      cond->a = std::move(e);
      e = std::move(cond);
    }
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      auto e = make(ExprKind::kOr, next().line);
      e->a = std::move(left);
      e->b = parse_and();
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      auto e = make(ExprKind::kAnd, next().line);
      e->a = std::move(left);
      e->b = parse_not();
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto e = make(ExprKind::kNot, next().line);
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }

  // Chained comparisons (a < b < c) become (a < b) and (b < c), with b evaluated twice; real
  // templates do not chain, and operands there have no side effects.
  ExprPtr parse_compare() {
    ExprPtr left = parse_math1();
    ExprPtr result;
    const Expr* previous_right = nullptr;
    while (true) {
      std::string op;
      const int line = peek().line;
      if (is_op("==") || is_op("!=") || is_op("<") || is_op("<=") || is_op(">") || is_op(">=")) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      ExprPtr cmp = binary(op, result ? clone(*previous_right) : std::move(left), parse_math1(), line);
      previous_right = cmp->b.get();
      if (!result) {
        result = std::move(cmp);
      } else {
        auto both = make(ExprKind::kAnd, line);
        both->a = std::move(result);
        both->b = std::move(cmp);
        result = std::move(both);
      }
    }
    return result ? std::move(result) : std::move(left);
  }

  ExprPtr clone(const Expr& e) {
    DepthGuard guard(*this);
    auto c = make(e.kind, e.line);
    c->literal = e.literal;
    c->name = e.name;
    c->negated = e.negated;
    if (e.a) c->a = clone(*e.a);
    if (e.b) c->b = clone(*e.b);
    if (e.c) c->c = clone(*e.c);
    if (e.d) c->d = clone(*e.d);
    for (const auto& item : e.items) c->items.push_back(clone(*item));
    for (const auto& [k, v] : e.kwargs) c->kwargs.emplace_back(k, clone(*v));
    return c;
  }

  ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b, int line) {
    auto e = make(ExprKind::kBinary, line);
    e->name = op;
    e->a = std::move(a);
    e->b = std::move(b);
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      left = binary(t.text, std::move(left), parse_concat(), t.line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      const Token& t = next();
      left = binary("~", std::move(left), parse_math2(), t.line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      left = binary(t.text, std::move(left), parse_pow(), t.line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const Token& t = next();
      left = binary("**", std::move(left), parse_unary(true), t.line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      node = make(ExprKind::kUnary, t.line);
      node->name = t.text;
      node->a = parse_unary(false);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    DepthGuard guard(*this);
    const Token& t = peek();
    switch (t.type) {
      case TokenType::kName: {
        next();
        auto e = make(ExprKind::kLiteral, t.line);
        if (t.text == "true" || t.text == "True") {
          e->literal = Value::boolean(true);
        } else if (t.text == "false" || t.text == "False") {
          e->literal = Value::boolean(false);
        } else if (t.text == "none" || t.text == "None") {
          e->literal = Value::none();
        } else {
          e->kind = ExprKind::kName;
          e->name = t.text;
        }
        return e;
      }
      case TokenType::kString: {
        auto e = make(ExprKind::kLiteral, t.line);
        std::string s;
        while (peek().type == TokenType::kString) s += next().text;
        e->literal = Value::string(std::move(s));
        return e;
      }
      case TokenType::kInt: {
        next();
        auto e = make(ExprKind::kLiteral, t.line);
        e->literal = Value::integer(t.int_value);
        return e;
      }
      case TokenType::kFloat: {
        next();
        auto e = make(ExprKind::kLiteral, t.line);
        e->literal = Value::number(t.float_value);
        return e;
      }
      case TokenType::kOp:
        if (t.text == "(") return parse_paren();
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        [[fallthrough]];
      default: fail("unexpected '" + describe(t) + "'");
    }
  }

  ExprPtr parse_paren() {
    const int line = next().line;
    if (skip_op(")")) return make(ExprKind::kTuple, line);
    ExprPtr first = parse_expression();
    if (skip_op(")")) return first;
    auto tuple = make(ExprKind::kTuple, line);
    tuple->items.push_back(std::move(first));
    while (skip_op(",")) {
      if (is_op(")")) break;
      tuple->items.push_back(parse_expression());
    }
    expect_op(")");
    return tuple;
  }

  ExprPtr parse_list() {
    auto e = make(ExprKind::kList, next().line);
    while (!skip_op("]")) {
      if (!e->items.empty()) expect_op(",");
      if (skip_op("]")) break;
      e->items.push_back(parse_expression());
    }
    return e;
  }

  ExprPtr parse_dict() {
    auto e = make(ExprKind::kDict, next().line);
    while (!skip_op("}")) {
      if (!e->items.empty()) expect_op(",");
      if (skip_op("}")) break;
      e->items.push_back(parse_expression());
      expect_op(":");
      e->items.push_back(parse_expression());
    }
    return e;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      DepthGuard guard(*this);
      if (is_op(".")) {
        const int line = next().line;
        auto e = make(ExprKind::kAttr, line);
        if (peek().type == TokenType::kInt) {
          e->kind = ExprKind::kItem;
          e->b = make(ExprKind::kLiteral, line);
          e->b->literal = Value::integer(next().int_value);
        } else {
          e->name = expect_name();
        }
        e->a = std::move(node);
        node = std::move(e);
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const int line = next().line;
    ExprPtr parts[3];
    int colons = 0;
    while (!is_op("]")) {
      if (skip_op(":")) {
        if (++colons > 2) fail("invalid slice");
        continue;
      }
      if (parts[colons]) fail("expected ']'");
      parts[colons] = parse_expression();
    }
    next();
    if (colons == 0) {
      if (!parts[0]) fail("empty subscript");
      auto e = make(ExprKind::kItem, line);
      e->a = std::move(node);
      e->b = std::move(parts[0]);
      return e;
    }
    auto e = make(ExprKind::kSlice, line);
    e->a = std::move(node);
    e->b = std::move(parts[0]);
    e->c = std::move(parts[1]);
    e->d = std::move(parts[2]);
    return e;
  }

  void parse_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!skip_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (skip_op(")")) break;
      if (peek().type == TokenType::kName && is_op("=", 1)) {
        std::string name = next().text;
        next();
        e.kwargs.emplace_back(std::move(name), parse_expression());
      } else {
        if (!e.kwargs.empty()) fail("positional argument after keyword argument");
        e.items.push_back(parse_expression());
      }
    }
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(ExprKind::kCall, peek().line);
    parse_args(*e);
    e->a = std::move(node);
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      DepthGuard guard(*this);
      if (is_op("|")) {
        node = parse_filter_chain(std::move(node));
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  // One or more "| name(args)" applied to `node` (null: the body of a filter block or set block).
  ExprPtr parse_filter_chain(ExprPtr node) {
    bool first = true;
    while (first || is_op("|")) {
      if (!first || is_op("|")) expect_op("|");
      first = false;
      auto e = make(ExprKind::kFilter, peek().line);
      e->name = expect_name();
      if (!has_filter(e->name)) fail("no filter named '" + e->name + "'");
      if (is_op("(")) parse_args(*e);
      e->a = std::move(node);
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    auto e = make(ExprKind::kTest, next().line);
    e->negated = skip_name("not");
    e->name = expect_name();
    if (!has_test(e->name)) fail("no test named '" + e->name + "'");
    if (is_op("(")) {
      parse_args(*e);
    } else if (test_takes_argument(e->name) &&
               (peek().type == TokenType::kName || peek().type == TokenType::kString ||
                peek().type == TokenType::kInt || peek().type == TokenType::kFloat || is_op("(") || is_op("[") ||
                is_op("{") || is_op("-")) &&
               !is_name("else") && !is_name("or") && !is_name("and") && !is_name("if")) {
      if (is_op("-")) {
        e->items.push_back(parse_unary(false));
      } else {
        e->items.push_back(parse_postfix(parse_primary()));
      }
    }
    e->a = std::move(node);
    return e;
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Body parse_template(std::vector<Token> tokens) {
  return Parser(std::move(tokens)).parse();
}

}  // namespace rbees::chat
