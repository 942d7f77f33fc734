#include "grammar/byte_grammar.hpp"

#include "grammar/grammar_error.hpp"
#include "grammar/utf8_ranges.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

namespace rbees::grammar {

namespace {

constexpr size_t kMaxElements = 4'000'000;
// Copies of a repeated item written out in place; past this, a chain of rules.
constexpr int32_t kInlineCopies = 4;

struct Item {
  bool is_ref;
  int32_t arg;  // byte set index or rule id
};
using Seq = std::vector<Item>;

class Lowering {
 public:
  explicit Lowering(const RuleSet& rs) : rs_(rs) {
    for (const auto& [name, body] : rs.rules) {
      ids_[name] = static_cast<int32_t>(names_.size());
      names_.push_back(name);
      rules_.emplace_back();
    }
  }

  ByteGrammar run() {
    for (size_t i = 0; i < rs_.rules.size(); ++i) {
      const Expr& body = rs_.rules[i].second;
      std::vector<Seq> alts;
      if (body.kind == Expr::Kind::kAlternatives) {
        for (const auto& a : body.items) alts.push_back(lower_seq(a));
      } else {
        alts.push_back(lower_seq(body));
      }
      rules_[i] = std::move(alts);
    }
    check_left_recursion();
    ByteGrammar g = flatten();
    g.deferred.assign(rules_.size(), 0);
    for (int32_t r : deferred_) g.deferred[static_cast<size_t>(r)] = 1;
    return g;
  }

 private:
  int32_t new_rule(const std::string& name) {
    names_.push_back(name);
    rules_.emplace_back();
    return static_cast<int32_t>(rules_.size() - 1);
  }

  int32_t byte_set(const ByteGrammar::ByteSet& s) {
    auto [it, fresh] = set_ids_.emplace(s, static_cast<int32_t>(sets_.size()));
    if (fresh) sets_.push_back(s);
    return it->second;
  }

  Item range_item(uint8_t lo, uint8_t hi) {
    ByteGrammar::ByteSet s{};
    for (unsigned b = lo; b <= hi; ++b) s[b >> 6] |= 1ull << (b & 63);
    return {false, byte_set(s)};
  }

  void grow(size_t n) {
    total_ += n;
    if (total_ > kMaxElements) throw GrammarError("grammar: too large once repetitions are expanded");
  }

  Seq lower_seq(const Expr& e) {
    Seq out;
    lower_into(e, out);
    return out;
  }

  void lower_into(const Expr& e, Seq& out) {
    switch (e.kind) {
      case Expr::Kind::kSequence:
        for (const auto& i : e.items) lower_into(i, out);
        return;
      case Expr::Kind::kLiteral:
        grow(e.text.size());
        for (char c : e.text) out.push_back(range_item(static_cast<uint8_t>(c), static_cast<uint8_t>(c)));
        return;
      case Expr::Kind::kRuleRef: out.push_back({true, ids_.at(e.text)}); return;
      case Expr::Kind::kCharClass: {
        const auto ranges = normalize_ranges(e.ranges, e.negated);
        if (ranges.empty()) throw GrammarError("grammar: a character class that matches nothing");
        // ASCII-only classes are one byte set; others become a rule of UTF-8 sequences.
        if (ranges.back().hi < 0x80) {
          ByteGrammar::ByteSet s{};
          for (auto r : ranges)
            for (uint32_t b = r.lo; b <= r.hi; ++b) s[b >> 6] |= 1ull << (b & 63);
          out.push_back({false, byte_set(s)});
          return;
        }
        std::string key;
        for (auto r : ranges) key += std::to_string(r.lo) + "-" + std::to_string(r.hi) + ",";
        auto it = class_rules_.find(key);
        if (it == class_rules_.end()) {
          const int32_t id = new_rule("class" + std::to_string(rules_.size()));
          std::vector<Seq> alts;
          for (const auto& seq : utf8_sequences(ranges)) {
            Seq s;
            for (auto br : seq) s.push_back(range_item(br.lo, br.hi));
            grow(s.size());
            alts.push_back(std::move(s));
          }
          rules_[static_cast<size_t>(id)] = std::move(alts);
          it = class_rules_.emplace(key, id).first;
        }
        out.push_back({true, it->second});
        return;
      }
      case Expr::Kind::kAlternatives: {
        const int32_t id = new_rule("alt" + std::to_string(rules_.size()));
        std::vector<Seq> alts;
        for (const auto& a : e.items) alts.push_back(lower_seq(a));
        rules_[static_cast<size_t>(id)] = std::move(alts);
        out.push_back({true, id});
        return;
      }
      case Expr::Kind::kRepeat: {
        const Seq x = lower_seq(e.items[0]);
        // A few copies inline; more become a chain of rules, one per count (ByteGrammar::deferred).
        const bool chained = e.min > kInlineCopies;
        if (!chained) {
          for (int32_t i = 0; i < e.min; ++i) {
            grow(x.size());
            out.insert(out.end(), x.begin(), x.end());
          }
        }
        // What follows the copies: none, x* or x{0,max-min}.
        std::optional<Item> tail;
        if (e.max == -1) {
          // star ::= x star | ""
          const int32_t id = new_rule("star" + std::to_string(rules_.size()));
          Seq loop = x;
          loop.push_back({true, id});
          grow(loop.size());
          rules_[static_cast<size_t>(id)] = {loop, Seq{}};
          tail = Item{true, id};
        } else if (e.max > e.min) {
          // upto_k ::= x upto_{k-1} | "", upto_1 ::= x | ""
          tail = Item{true, chain(x, e.max - e.min, std::nullopt, true)};
        }
        // exact_k ::= x exact_{k-1}, exact_1 ::= x tail
        if (chained) {
          out.push_back({true, chain(x, e.min, tail, false)});
        } else if (tail) {
          out.push_back(*tail);
        }
        return;
      }
    }
  }

  // A chain of `count` rules of x, each referring to the next; the last ends in `last` (optional
  // ones: or in nothing). Returns the first.
  int32_t chain(const Seq& x, int32_t count, std::optional<Item> last, bool optional) {
    int32_t inner = -1;
    for (int32_t k = 1; k <= count; ++k) {
      const int32_t id = new_rule((optional ? "upto" : "exact") + std::to_string(rules_.size()));
      Seq s = x;
      if (inner >= 0) {
        s.push_back({true, inner});
      } else if (last) {
        s.push_back(*last);
      }
      grow(s.size());
      rules_[static_cast<size_t>(id)] = optional ? std::vector<Seq>{s, Seq{}} : std::vector<Seq>{s};
      // Only the first rule (the highest count) is sure to be reached.
      if (inner >= 0) deferred_.insert(inner);
      inner = id;
    }
    return inner;
  }

  void check_left_recursion() const {
    const size_t n = rules_.size();
    std::vector<char> nullable(n, 0);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (nullable[r]) continue;
        for (const auto& alt : rules_[r]) {
          bool all = std::all_of(alt.begin(), alt.end(),
                                 [&](const Item& i) { return i.is_ref && nullable[static_cast<size_t>(i.arg)]; });
          if (all) {
            nullable[r] = 1;
            changed = true;
            break;
          }
        }
      }
    }
    // Edges to the rules a rule may start with; a cycle among them is left recursion.
    std::vector<std::vector<int32_t>> first(n);
    for (size_t r = 0; r < n; ++r) {
      for (const auto& alt : rules_[r]) {
        for (const auto& i : alt) {
          if (!i.is_ref) break;
          first[r].push_back(i.arg);
          if (!nullable[static_cast<size_t>(i.arg)]) break;
        }
      }
    }
    std::vector<char> color(n, 0);  // 0 new, 1 on the path, 2 done
    for (size_t start = 0; start < n; ++start) {
      if (color[start]) continue;
      std::vector<std::pair<int32_t, size_t>> stack{{static_cast<int32_t>(start), 0}};
      color[start] = 1;
      while (!stack.empty()) {
        auto& [r, next] = stack.back();
        const auto& edges = first[static_cast<size_t>(r)];
        if (next == edges.size()) {
          color[static_cast<size_t>(r)] = 2;
          stack.pop_back();
          continue;
        }
        const int32_t s = edges[next++];
        if (color[static_cast<size_t>(s)] == 1) {
          throw GrammarError("grammar: rule '" + names_[static_cast<size_t>(s)] + "' is left-recursive");
        }
        if (color[static_cast<size_t>(s)] == 0) {
          color[static_cast<size_t>(s)] = 1;
          stack.push_back({s, 0});
        }
      }
    }
  }

  ByteGrammar flatten() {
    ByteGrammar g;
    g.byte_sets = sets_;
    g.rule_names = names_;
    g.alternatives.resize(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r) {
      for (const auto& alt : rules_[r]) {
        g.alternatives[r].push_back(static_cast<int32_t>(g.elements.size()));
        for (const auto& i : alt) {
          g.elements.push_back({i.is_ref ? ByteGrammar::Op::kRef : ByteGrammar::Op::kBytes, i.arg});
          g.rule_of.push_back(static_cast<int32_t>(r));
        }
        g.elements.push_back({ByteGrammar::Op::kEnd, 0});
        g.rule_of.push_back(static_cast<int32_t>(r));
      }
    }
    g.root = ids_.at("root");
    return g;
  }

  const RuleSet& rs_;
  std::map<std::string, int32_t> ids_;
  std::vector<std::string> names_;
  std::vector<std::vector<Seq>> rules_;
  std::vector<ByteGrammar::ByteSet> sets_;
  std::map<ByteGrammar::ByteSet, int32_t> set_ids_;
  std::unordered_map<std::string, int32_t> class_rules_;
  std::set<int32_t> deferred_;
  size_t total_ = 0;
};

}  // namespace

ByteGrammar lower_to_bytes(const RuleSet& rules) {
  return Lowering(rules).run();
}

std::vector<std::vector<int32_t>> ByteGrammar::return_positions() const {
  std::vector<std::set<int32_t>> ret(alternatives.size());
  ret[static_cast<size_t>(root)].insert(-1);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t q = 0; q < elements.size(); ++q) {
      if (elements[q].op != Op::kRef) continue;
      auto& target = ret[static_cast<size_t>(elements[q].arg)];
      const size_t before = target.size();
      if (elements[q + 1].op == Op::kEnd) {
        const auto& own = ret[static_cast<size_t>(rule_of[q])];
        target.insert(own.begin(), own.end());
      } else {
        target.insert(static_cast<int32_t>(q + 1));
      }
      changed |= target.size() != before;
    }
  }
  std::vector<std::vector<int32_t>> out;
  for (auto& s : ret) out.emplace_back(s.begin(), s.end());
  return out;
}

}  // namespace rbees::grammar
