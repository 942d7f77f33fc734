#include "grammar/json_schema.hpp"

#include "grammar/grammar_error.hpp"
#include "grammar/regex_to_gbnf.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace rbees::grammar {

namespace {

using Json = nlohmann::ordered_json;

// Rules every converted schema may use. `ws` is at most one space: enough for any JSON layout a
// client parses, and no room for a model to run on in whitespace.
constexpr const char* kPrimitives = R"gbnf(ws ::= " "?
sep ::= ws "," ws
value ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( member ( sep member )* ws )? "}"
member ::= string ws ":" ws value
array ::= "[" ws ( value ( sep value )* ws )? "]"
string ::= "\"" char* "\""
char ::= [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
number ::= integer ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
integer ::= "-"? ( "0" | [1-9] [0-9]* )
boolean ::= "true" | "false"
null ::= "null"
hex ::= [0-9a-fA-F]
date ::= [0-9]{4} "-" ( ( "0" [13578] | "1" [02] ) "-" ( day28 | "29" | "3" [01] ) | ( "0" [469] | "11" ) "-" ( day28 | "29" | "30" ) | "02-" day28 ) | leap-year "-02-29"
day28 ::= "0" [1-9] | "1" [0-9] | "2" [0-8]
leap-year ::= [0-9] [0-9] ( "0" [48] | [2468] [048] | [13579] [26] ) | ( "0" [048] | [2468] [048] | [13579] [26] ) "00"
time ::= ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" ( [0-5] [0-9] | "60" ) ( "." [0-9]+ )? ( [Zz] | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )
date-time ::= date [Tt] time
uuid ::= hex{8} "-" hex{4} "-" hex{4} "-" hex{4} "-" hex{12}
email ::= [a-zA-Z0-9_%+-] [a-zA-Z0-9._%+-]* "@" [a-zA-Z0-9] [a-zA-Z0-9-]* ( "." [a-zA-Z0-9] [a-zA-Z0-9-]* )+
ipv4 ::= octet "." octet "." octet "." octet
octet ::= "25" [0-5] | "2" [0-4] [0-9] | "1" [0-9] [0-9] | [1-9] [0-9] | [0-9]
)gbnf";

const std::set<std::string> kAnnotations = {"title",      "description", "default",    "examples", "$schema",
                                            "$id",        "id",          "$comment",   "readOnly", "writeOnly",
                                            "deprecated", "$defs",       "definitions"};
const std::set<std::string> kKnown = {"type",
                                      "enum",
                                      "const",
                                      "anyOf",
                                      "oneOf",
                                      "allOf",
                                      "$ref",
                                      "minimum",
                                      "maximum",
                                      "exclusiveMinimum",
                                      "exclusiveMaximum",
                                      "minLength",
                                      "maxLength",
                                      "pattern",
                                      "format",
                                      "items",
                                      "prefixItems",
                                      "additionalItems",
                                      "minItems",
                                      "maxItems",
                                      "uniqueItems",
                                      "properties",
                                      "required",
                                      "additionalProperties"};
const std::vector<std::string> kTypes = {"object", "array", "string", "integer", "number", "boolean", "null"};
const std::map<std::string, std::string> kTypeOf = {{"minimum", "number"},
                                                    {"maximum", "number"},
                                                    {"exclusiveMinimum", "number"},
                                                    {"exclusiveMaximum", "number"},
                                                    {"minLength", "string"},
                                                    {"maxLength", "string"},
                                                    {"pattern", "string"},
                                                    {"format", "string"},
                                                    {"items", "array"},
                                                    {"prefixItems", "array"},
                                                    {"additionalItems", "array"},
                                                    {"minItems", "array"},
                                                    {"maxItems", "array"},
                                                    {"uniqueItems", "array"},
                                                    {"properties", "object"},
                                                    {"required", "object"},
                                                    {"additionalProperties", "object"}};

std::string quote(std::string_view bytes) {
  std::string out = "\"";
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string alternatives(const std::vector<std::string>& alts) {
  if (alts.size() == 1) return alts[0];
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
  return out + ")";
}

std::string decimal(int64_t v) {
  return std::to_string(v);
}

// Digit strings of one length n between lo and hi (as strings of n digits), leading zeros allowed.
std::string same_length(const std::string& lo, const std::string& hi) {
  if (lo == hi) return quote(lo);
  if (lo.size() == 1) return "[" + lo + "-" + hi + "]";
  if (lo[0] == hi[0]) return quote(lo.substr(0, 1)) + " " + same_length(lo.substr(1), hi.substr(1));
  const std::string rest_lo = lo.substr(1), rest_hi = hi.substr(1);
  const std::string zeros(rest_lo.size(), '0'), nines(rest_lo.size(), '9');
  const std::string any = "[0-9]{" + std::to_string(rest_lo.size()) + "}";
  std::vector<std::string> alts;
  char first = lo[0], last = hi[0];
  if (rest_lo != zeros) {
    alts.push_back(quote(lo.substr(0, 1)) + " " + same_length(rest_lo, nines));
    ++first;
  }
  const bool hi_full = rest_hi == nines;
  if (!hi_full) --last;
  if (first <= last) alts.push_back("[" + std::string(1, first) + "-" + std::string(1, last) + "] " + any);
  if (!hi_full) alts.push_back(quote(hi.substr(0, 1)) + " " + same_length(zeros, rest_hi));
  return alternatives(alts);
}

// Non-negative integers in [lo, hi] without leading zeros; hi < 0: unbounded.
std::string non_negative_range(int64_t lo, int64_t hi) {
  std::vector<std::string> alts;
  const std::string slo = decimal(lo);
  const size_t max_len = hi < 0 ? slo.size() : decimal(hi).size();
  for (size_t len = slo.size(); len <= max_len; ++len) {
    const std::string from = len == slo.size() ? slo : "1" + std::string(len - 1, '0');
    const std::string to = (hi >= 0 && len == max_len) ? decimal(hi) : std::string(len, '9');
    alts.push_back(same_length(from, to));
  }
  if (hi < 0) alts.push_back("[1-9] [0-9]{" + std::to_string(slo.size()) + ",}");
  return alternatives(alts);
}

std::string integer_range(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  const std::string any_positive = "[1-9] [0-9]*";
  if (lo && hi) {
    if (*lo >= 0) return non_negative_range(*lo, *hi);
    if (*hi < 0) return "\"-\" " + non_negative_range(-*hi, -*lo);
    return "(\"-\" " + non_negative_range(1, -*lo) + " | " + non_negative_range(0, *hi) + ")";
  }
  if (lo) {
    if (*lo >= 0) return non_negative_range(*lo, -1);
    return "(\"-\" " + non_negative_range(1, -*lo) + " | \"0\" | " + any_positive + ")";
  }
  if (hi) {
    if (*hi >= 0) return "(" + non_negative_range(0, *hi) + " | \"-\" " + any_positive + ")";
    return "\"-\" " + non_negative_range(-*hi, -1);
  }
  return "integer";
}

class Converter {
 public:
  explicit Converter(Json root) : root_(std::move(root)) {}

  std::string run(std::string_view root_name) {
    const std::string top = visit(root_, "#");
    std::string out = std::string(root_name) + " ::= " + top + "\n";
    for (const auto& r : rules_) out += r + "\n";
    return out + kPrimitives;
  }

 private:
  [[noreturn]] static void fail(const std::string& path, const std::string& what) {
    throw GrammarError("json_schema: " + what + " at " + path);
  }

  std::string add_rule(const std::string& body) {
    const std::string name = reserve_rule();
    rules_.push_back(name + " ::= " + body);
    return name;
  }
  std::string reserve_rule() { return "r" + std::to_string(next_rule_++); }

  const Json& resolve(const std::string& ref, const std::string& path) const {
    if (ref.empty() || ref[0] != '#') fail(path, "$ref '" + ref + "' is not a reference within the schema (#...)");
    std::string pointer;
    for (size_t i = 1; i < ref.size(); ++i) {
      if (ref[i] == '%' && i + 2 < ref.size()) {
        pointer += static_cast<char>(std::stoi(ref.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        pointer += ref[i];
      }
    }
    try {
      return root_.at(Json::json_pointer(pointer));
    } catch (const std::exception&) {
      fail(path, "$ref '" + ref + "' does not resolve");
    }
  }

  // Follows $ref chains so merging sees the target (siblings of $ref are refused in visit()).
  Json deref(const Json& s, const std::string& path) const {
    const Json* cur = &s;
    for (int i = 0; i < 64 && cur->is_object() && cur->contains("$ref"); ++i) {
      for (const auto& [k, v] : cur->items()) {
        if (k != "$ref" && !kAnnotations.count(k)) fail(path, "'$ref' alongside '" + k + "' is not supported");
      }
      cur = &resolve((*cur)["$ref"].get<std::string>(), path);
    }
    return *cur;
  }

  std::vector<std::string> types_of(const Json& s, const std::string& path) const {
    if (!s.contains("type")) return kTypes;
    std::vector<std::string> out;
    const Json& t = s["type"];
    if (t.is_string()) {
      out.push_back(t.get<std::string>());
    } else if (t.is_array()) {
      for (const auto& x : t) {
        if (!x.is_string()) fail(path, "'type' must hold type names");
        out.push_back(x.get<std::string>());
      }
    } else {
      fail(path, "'type' must be a string or an array");
    }
    for (const auto& x : out) {
      if (std::find(kTypes.begin(), kTypes.end(), x) == kTypes.end()) fail(path, "unknown type '" + x + "'");
    }
    return out;
  }

  static bool type_matches(const Json& v, const std::string& type) {
    if (type == "null") return v.is_null();
    if (type == "boolean") return v.is_boolean();
    if (type == "string") return v.is_string();
    if (type == "array") return v.is_array();
    if (type == "object") return v.is_object();
    if (type == "number") return v.is_number();
    if (type == "integer")
      return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    return false;
  }

  std::string visit(const Json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return "value";
      fail(path, "schema 'false' accepts nothing");
    }
    if (!s.is_object()) fail(path, "a schema must be an object or a boolean");
    if (s.contains("$ref")) {
      for (const auto& [k, v] : s.items()) {
        if (k != "$ref" && !kAnnotations.count(k)) fail(path, "'$ref' alongside '" + k + "' is not supported");
      }
      if (!s["$ref"].is_string()) fail(path, "'$ref' must be a string");
      const std::string ref = s["$ref"].get<std::string>();
      auto it = refs_.find(ref);
      if (it != refs_.end()) return it->second;
      const Json& target = resolve(ref, path);
      const std::string name = reserve_rule();
      refs_[ref] = name;
      const std::string body = visit(target, ref);
      rules_.push_back(name + " ::= " + body);
      return name;
    }
    for (const auto& [k, v] : s.items()) {
      if (!kKnown.count(k) && !kAnnotations.count(k)) fail(path, "unsupported keyword '" + k + "'");
    }
    if (s.contains("allOf")) {
      if (!s["allOf"].is_array() || s["allOf"].empty()) fail(path, "'allOf' must be a non-empty array");
      Json merged = s;
      merged.erase("allOf");
      for (size_t i = 0; i < s["allOf"].size(); ++i) {
        merged = merge(merged, deref(s["allOf"][i], path), path + "/allOf/" + std::to_string(i));
      }
      return visit(merged, path);
    }
    if (s.contains("anyOf") || s.contains("oneOf")) {
      if (s.contains("anyOf") && s.contains("oneOf")) fail(path, "'anyOf' together with 'oneOf' is not supported");
      const std::string kw = s.contains("anyOf") ? "anyOf" : "oneOf";
      const Json& branches = s[kw];
      if (!branches.is_array() || branches.empty()) fail(path, "'" + kw + "' must be a non-empty array");
      Json siblings = s;
      siblings.erase(kw);
      bool constrained = false;
      for (const auto& [k, v] : siblings.items()) constrained |= !kAnnotations.count(k);
      if (kw == "oneOf") check_disjoint(branches, siblings, path);
      std::vector<std::string> alts;
      for (size_t i = 0; i < branches.size(); ++i) {
        const std::string bp = path + "/" + kw + "/" + std::to_string(i);
        if (branches[i].is_boolean() && !branches[i].get<bool>()) continue;
        alts.push_back(constrained ? visit(merge(siblings, deref(branches[i], bp), bp), bp) : visit(branches[i], bp));
      }
      if (alts.empty()) fail(path, "every branch of '" + kw + "' is 'false'");
      return add_rule(alternatives(alts));
    }
    const std::vector<std::string> types = types_of(s, path);
    if (s.contains("const") || s.contains("enum")) return literals(s, types, path);

    std::vector<std::string> alts;
    const bool has_number = std::find(types.begin(), types.end(), "number") != types.end();
    for (const auto& t : types) {
      if (t == "integer" && has_number) continue;
      if (t == "null") alts.push_back("null");
      if (t == "boolean") alts.push_back("boolean");
      if (t == "integer") alts.push_back(integer(s, path));
      if (t == "number") alts.push_back(number(s, path));
      if (t == "string") alts.push_back(string(s, path));
      if (t == "array") alts.push_back(array(s, path));
      if (t == "object") alts.push_back(object(s, path));
    }
    if (alts.empty()) fail(path, "'type' lists no type");
    if (alts.size() == 1 && types.size() == 1) return alts[0];
    return add_rule(alternatives(alts));
  }

  std::string literals(const Json& s, const std::vector<std::string>& types, const std::string& path) {
    for (const auto& [k, v] : s.items()) {
      if (k != "const" && k != "enum" && k != "type" && !kAnnotations.count(k)) {
        fail(path, "'" + std::string(s.contains("const") ? "const" : "enum") + "' together with '" + k +
                       "' is not supported");
      }
    }
    std::vector<Json> values;
    if (s.contains("const")) values.push_back(s["const"]);
    if (s.contains("enum")) {
      if (!s["enum"].is_array()) fail(path, "'enum' must be an array");
      std::vector<Json> kept;
      for (const auto& v : s["enum"]) {
        if (!s.contains("const") || v == s["const"]) kept.push_back(v);
      }
      values = kept;
    }
    std::vector<std::string> alts;
    for (const auto& v : values) {
      const bool typed =
          std::any_of(types.begin(), types.end(), [&](const std::string& t) { return type_matches(v, t); });
      if (typed) alts.push_back(quote(v.dump()));
    }
    if (alts.empty()) fail(path, "no value of 'enum'/'const' has an allowed type");
    return add_rule(alternatives(alts));
  }

  std::optional<int64_t> bound(const Json& s, const std::string& key, const std::string& path) const {
    if (!s.contains(key)) return std::nullopt;
    const Json& v = s[key];
    if (v.is_boolean()) return std::nullopt;  // draft 4 exclusive flags, read with their bound
    if (!v.is_number()) fail(path, "'" + key + "' must be a number");
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > 1e17) fail(path, "'" + key + "' is out of the supported range");
    const bool draft4_exclusive =
        (key == "minimum" && s.value("exclusiveMinimum", Json()).is_boolean() && s["exclusiveMinimum"].get<bool>()) ||
        (key == "maximum" && s.value("exclusiveMaximum", Json()).is_boolean() && s["exclusiveMaximum"].get<bool>());
    const bool lower = key == "minimum" || key == "exclusiveMinimum";
    const bool exclusive = key.rfind("exclusive", 0) == 0 || draft4_exclusive;
    if (lower) return static_cast<int64_t>(exclusive ? std::floor(d) + 1 : std::ceil(d));
    return static_cast<int64_t>(exclusive ? std::ceil(d) - 1 : std::floor(d));
  }

  std::string integer(const Json& s, const std::string& path) {
    std::optional<int64_t> lo, hi;
    for (const char* k : {"minimum", "exclusiveMinimum"}) {
      if (auto b = bound(s, k, path)) lo = lo ? std::max(*lo, *b) : *b;
    }
    for (const char* k : {"maximum", "exclusiveMaximum"}) {
      if (auto b = bound(s, k, path)) hi = hi ? std::min(*hi, *b) : *b;
    }
    if (lo && hi && *lo > *hi) fail(path, "the integer range is empty");
    if (!lo && !hi) return "integer";
    return add_rule(integer_range(lo, hi));
  }

  // A bound of a number: its integer value and whether it is exclusive (draft 4's boolean flags too).
  struct NumberBound {
    int64_t value;
    bool exclusive;
  };
  std::optional<NumberBound> number_bound(const Json& s, bool lower, const std::string& path) const {
    std::optional<NumberBound> out;
    const std::string inclusive_key = lower ? "minimum" : "maximum";
    const std::string exclusive_key = lower ? "exclusiveMinimum" : "exclusiveMaximum";
    for (const auto& key : {inclusive_key, exclusive_key}) {
      if (!s.contains(key) || s[key].is_boolean()) continue;
      if (!s[key].is_number()) fail(path, "'" + key + "' must be a number");
      const double d = s[key].get<double>();
      if (!std::isfinite(d) || std::fabs(d) > 1e17) fail(path, "'" + key + "' is out of the supported range");
      if (d != std::floor(d)) fail(path, "'" + key + "' with a fraction is supported for type integer only");
      const bool draft4 =
          key == inclusive_key && s.value(exclusive_key, Json()).is_boolean() && s[exclusive_key].get<bool>();
      NumberBound b{static_cast<int64_t>(d), key == exclusive_key || draft4};
      // Of two bounds the tighter one holds.
      if (!out || (lower ? (b.value > out->value || (b.value == out->value && b.exclusive))
                         : (b.value < out->value || (b.value == out->value && b.exclusive)))) {
        out = b;
      }
    }
    return out;
  }

  // Non-negative decimals y (no exponent) with c <= y (c < y when lo_excl) and y <= d (y < d), d
  // none for no upper bound; empty when no such number exists.
  static std::string decimal_range(int64_t c, bool lo_excl, std::optional<int64_t> d, bool hi_excl) {
    const std::string any_frac = "( \".\" [0-9]+ )?", zero_frac = "( \".\" \"0\"+ )?";
    const std::string nonzero_frac = "\".\" [0-9]* [1-9] [0-9]*";
    std::vector<std::string> alts;
    const std::string first = quote(decimal(c)) + " " + (lo_excl ? nonzero_frac : any_frac);
    if (!d) {
      alts.push_back(first);
      alts.push_back(non_negative_range(c + 1, -1) + " " + any_frac);
    } else if (c == *d) {
      if (!lo_excl && !hi_excl) alts.push_back(quote(decimal(c)) + " " + zero_frac);
    } else if (c < *d) {
      alts.push_back(first);
      if (c + 1 <= *d - 1) alts.push_back(non_negative_range(c + 1, *d - 1) + " " + any_frac);
      if (!hi_excl) alts.push_back(quote(decimal(*d)) + " " + zero_frac);
    }
    return alts.empty() ? "" : alternatives(alts);
  }

  // Ranged numbers are written without an exponent (a subset of the valid ones, never a superset).
  std::string number(const Json& s, const std::string& path) {
    const auto lo = number_bound(s, true, path), hi = number_bound(s, false, path);
    if (!lo && !hi) return "number";
    std::vector<std::string> alts;
    // x >= 0 part.
    if (!hi || hi->value > 0 || (hi->value == 0 && !hi->exclusive)) {
      const bool from_lo = lo && lo->value >= 0;
      const std::string part = decimal_range(from_lo ? lo->value : 0, from_lo && lo->exclusive,
                                             hi ? std::optional(hi->value) : std::nullopt, hi && hi->exclusive);
      if (!part.empty()) alts.push_back(part);
    }
    // x < 0 part, as "-" y with y > 0.
    if (!lo || lo->value < 0) {
      const bool from_hi = hi && hi->value < 0;
      const std::string part = decimal_range(from_hi ? -hi->value : 0, from_hi ? hi->exclusive : true,
                                             lo ? std::optional(-lo->value) : std::nullopt, lo && lo->exclusive);
      if (!part.empty()) alts.push_back("\"-\" " + part);
    }
    if (alts.empty()) fail(path, "no number satisfies the bounds");
    return add_rule(alternatives(alts));
  }

  static std::optional<int64_t> count(const Json& s, const std::string& key, const std::string& path) {
    if (!s.contains(key)) return std::nullopt;
    const Json& v = s[key];
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() != std::floor(v.get<double>())) {
      fail(path, "'" + key + "' must be a non-negative integer");
    }
    if (v.get<double>() > 10000) fail(path, "'" + key + "' above 10000 is not supported");
    return v.get<int64_t>();
  }

  std::string string(const Json& s, const std::string& path) {
    const auto min = count(s, "minLength", path), max = count(s, "maxLength", path);
    const bool length = min || max;
    if (s.contains("format")) {
      if (length || s.contains("pattern")) fail(path, "'format' together with a length or 'pattern' is not supported");
      if (!s["format"].is_string()) fail(path, "'format' must be a string");
      const std::string f = s["format"].get<std::string>();
      static const std::set<std::string> formats = {"date", "time", "date-time", "uuid", "email", "ipv4"};
      if (!formats.count(f)) fail(path, "unsupported format '" + f + "'");
      return add_rule("\"\\\"\" " + f + " \"\\\"\"");
    }
    if (s.contains("pattern")) {
      if (length) fail(path, "'pattern' together with 'minLength'/'maxLength' is not supported");
      if (!s["pattern"].is_string()) fail(path, "'pattern' must be a string");
      try {
        return add_rule("\"\\\"\" " + regex_to_gbnf(s["pattern"].get<std::string>(), "char") + " \"\\\"\"");
      } catch (const GrammarError& e) {
        fail(path, e.what());
      }
    }
    if (!length) return "string";
    const int64_t lo = min.value_or(0);
    if (max && *max < lo) fail(path, "'maxLength' is below 'minLength'");
    const std::string rep =
        max ? "{" + std::to_string(lo) + "," + std::to_string(*max) + "}" : "{" + std::to_string(lo) + ",}";
    return add_rule("\"\\\"\" char" + rep + " \"\\\"\"");
  }

  std::string array(const Json& s, const std::string& path) {
    if (s.contains("uniqueItems") && !(s["uniqueItems"].is_boolean() && !s["uniqueItems"].get<bool>())) {
      fail(path, "unsupported keyword 'uniqueItems'");
    }
    std::vector<std::string> prefix;
    std::optional<std::string> tail = "value";  // nullopt: no items past the prefix
    auto item_schema = [&](const Json& sub, const std::string& p) -> std::optional<std::string> {
      if (sub.is_boolean() && !sub.get<bool>()) return std::nullopt;
      return visit(sub, p);
    };
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) fail(path, "'prefixItems' must be an array");
      if (s.contains("additionalItems")) fail(path, "'additionalItems' with 'prefixItems' (use 'items')");
      for (size_t i = 0; i < s["prefixItems"].size(); ++i) {
        auto e = item_schema(s["prefixItems"][i], path + "/prefixItems/" + std::to_string(i));
        if (!e) break;  // a false item forbids arrays that long
        prefix.push_back(*e);
      }
      if (s.contains("items")) tail = item_schema(s["items"], path + "/items");
    } else if (s.contains("items") && s["items"].is_array()) {
      for (size_t i = 0; i < s["items"].size(); ++i) {
        auto e = item_schema(s["items"][i], path + "/items/" + std::to_string(i));
        if (!e) break;
        prefix.push_back(*e);
      }
      if (prefix.size() < s["items"].size())
        tail = std::nullopt;
      else if (s.contains("additionalItems"))
        tail = item_schema(s["additionalItems"], path + "/additionalItems");
    } else {
      if (s.contains("items")) tail = item_schema(s["items"], path + "/items");
      // additionalItems only applies with array-form items: nothing to enforce.
    }
    const int64_t min = count(s, "minItems", path).value_or(0);
    std::optional<int64_t> max = count(s, "maxItems", path);
    const auto k = static_cast<int64_t>(prefix.size());
    if (!tail) max = max ? std::min(*max, k) : k;
    if (max && *max < min) fail(path, "no array length satisfies 'minItems', 'maxItems' and the items");
    auto elem = [&](int64_t i) { return i < k ? prefix[static_cast<size_t>(i)] : *tail; };
    // rest(i): the elements from index i on, each after a separator.
    // Elements 1 .. fixed-1 one by one (each required below minItems), then the rest of the tail.
    std::string rest;
    const int64_t fixed = std::max(k, min);
    const int64_t tail_from = std::max<int64_t>(fixed, 1);
    if (!max || *max > tail_from) {
      rest = max ? "( sep " + *tail + " ){0," + std::to_string(*max - tail_from) + "}" : "( sep " + *tail + " )*";
    }
    for (int64_t i = std::min<int64_t>(fixed, max.value_or(fixed)) - 1; i >= 1; --i) {
      const std::string one = "sep " + elem(i) + (rest.empty() ? "" : " " + rest);
      rest = i < min ? one : "( " + one + " )?";
    }
    if (max && *max == 0) return add_rule("\"[\" ws \"]\"");
    const std::string first = elem(0) + (rest.empty() ? "" : " " + rest);
    if (min == 0) return add_rule("\"[\" ws ( " + first + " ws )? \"]\"");
    return add_rule("\"[\" ws " + first + " ws \"]\"");
  }

  // JSON string content that is none of `names` (for keys of additional properties).
  std::string key_not_in(const std::vector<std::string>& names, const std::string& path) {
    struct Trie {
      std::map<char, Trie> next;
      bool terminal = false;
    } root;
    for (const auto& n : names) {
      for (char c : n) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || c == '"' || c == '\\')
          fail(path, "additional properties beside a property name that needs escaping");
      }
      Trie* t = &root;
      for (char c : n) t = &t->next[c];
      t->terminal = true;
    }
    std::function<std::string(const Trie&)> build = [&](const Trie& t) -> std::string {
      std::vector<std::string> alts;
      if (!t.terminal) alts.push_back("\"\"");
      std::string excluded;
      for (const auto& [c, child] : t.next) {
        alts.push_back(quote(std::string(1, c)) + " " + build(child));
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(c));
        // Multi-byte characters are excluded by their first byte only when the name is ASCII.
        if (static_cast<unsigned char>(c) >= 0x80) fail(path, "additional properties beside a non-ASCII property name");
        excluded += buf;
      }
      alts.push_back("( [^\"\\\\\\x00-\\x1F" + excluded + "] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" hex{4} ) ) char*");
      return add_rule(alternatives(alts));
    };
    return build(root);
  }

  std::string object(const Json& s, const std::string& path) {
    struct Prop {
      std::string name;
      std::string value;
    };
    std::vector<Prop> required, optional;
    std::set<std::string> req;
    if (s.contains("required")) {
      if (!s["required"].is_array()) fail(path, "'required' must be an array");
      for (const auto& r : s["required"]) {
        if (!r.is_string()) fail(path, "'required' must list strings");
        req.insert(r.get<std::string>());
      }
    }
    std::vector<std::string> names;
    if (s.contains("properties")) {
      if (!s["properties"].is_object()) fail(path, "'properties' must be an object");
      for (const auto& [name, sub] : s["properties"].items()) {
        names.push_back(name);
        if (sub.is_boolean() && !sub.get<bool>()) {
          if (req.count(name)) fail(path, "required property '" + name + "' has schema 'false'");
          continue;
        }
        Prop p{name, visit(sub, path + "/properties/" + name)};
        (req.count(name) ? required : optional).push_back(std::move(p));
      }
    }
    for (const auto& r : req) {
      if (std::find(names.begin(), names.end(), r) == names.end()) {
        names.push_back(r);
        required.push_back({r, "value"});
      }
    }
    std::optional<std::string> extra = "value";
    if (s.contains("additionalProperties")) {
      const Json& a = s["additionalProperties"];
      if (a.is_boolean() && !a.get<bool>()) {
        extra = std::nullopt;
      } else {
        extra = visit(a, path + "/additionalProperties");
      }
    }
    auto kv = [&](const Prop& p) { return quote(Json(p.name).dump()) + " ws \":\" ws " + p.value; };
    std::string extra_kv;
    if (extra) {
      const std::string key = names.empty() ? "string" : "\"\\\"\" " + key_not_in(names, path) + " \"\\\"\"";
      extra_kv = add_rule(key + " ws \":\" ws " + *extra);
    }
    // Optional members (then additional ones) after whatever came before them, each with its separator.
    std::string tail = extra ? "( sep " + extra_kv + " )*" : "";
    std::vector<std::string> rest_after(optional.size() + 1);  // rest_after[i]: members after optional i-1
    rest_after[optional.size()] = tail;
    for (size_t i = optional.size(); i-- > 0;) {
      const std::string next = rest_after[i + 1];
      rest_after[i] = add_rule("( sep " + kv(optional[i]) + " )? " + (next.empty() ? "\"\"" : next));
    }
    std::string content;
    if (!required.empty()) {
      for (size_t i = 0; i < required.size(); ++i) content += (i ? " sep " : "") + kv(required[i]);
      if (!rest_after[0].empty()) content += " " + rest_after[0];
      return add_rule("\"{\" ws " + content + " ws \"}\"");
    }
    std::vector<std::string> firsts;
    for (size_t i = 0; i < optional.size(); ++i) {
      firsts.push_back(kv(optional[i]) + (rest_after[i + 1].empty() ? "" : " " + rest_after[i + 1]));
    }
    if (extra) firsts.push_back(extra_kv + " " + tail);
    if (firsts.empty()) return add_rule("\"{\" ws \"}\"");
    return add_rule("\"{\" ws ( " + alternatives(firsts) + " ws )? \"}\"");
  }

  // oneOf is enforced as anyOf when no value can match two branches: their types, or their
  // literal values, are disjoint.
  void check_disjoint(const Json& branches, const Json& siblings, const std::string& path) const {
    std::vector<std::set<std::string>> keys;
    for (size_t i = 0; i < branches.size(); ++i) {
      Json b = deref(branches[i], path + "/oneOf/" + std::to_string(i));
      std::set<std::string> k;
      if (b.is_object() && (b.contains("const") || b.contains("enum"))) {
        if (b.contains("const"))
          k.insert("=" + b["const"].dump());
        else
          for (const auto& v : b["enum"]) k.insert("=" + v.dump());
      } else {
        const Json& typed = (b.is_object() && b.contains("type")) ? b : siblings;
        std::vector<std::string> ts = types_of(typed.is_object() ? typed : Json::object(), path);
        for (auto& t : ts) {
          if (t == "integer") t = "number";
          k.insert(t);
        }
      }
      keys.push_back(std::move(k));
    }
    auto type_of_literal = [](const std::string& lit) {
      const Json v = Json::parse(lit.substr(1));
      for (const auto& t : kTypes) {
        if (t != "integer" && type_matches(v, t)) return t;
      }
      return std::string();
    };
    for (size_t i = 0; i < keys.size(); ++i) {
      for (size_t j = i + 1; j < keys.size(); ++j) {
        for (const auto& a : keys[i]) {
          for (const auto& b : keys[j]) {
            const std::string ta = a[0] == '=' ? type_of_literal(a) : a, tb = b[0] == '=' ? type_of_literal(b) : b;
            const bool overlap = (a[0] == '=' && b[0] == '=') ? a == b : ta == tb;
            if (overlap)
              fail(path, "'oneOf' branches " + std::to_string(i) + " and " + std::to_string(j) +
                             " may match the same value (not supported)");
          }
        }
      }
    }
  }

  // allOf: one schema holding both sets of constraints, where they combine; otherwise refused.
  Json merge(Json a, const Json& b, const std::string& path) const {
    if (b.is_boolean()) {
      if (b.get<bool>()) return a;
      fail(path, "schema 'false' accepts nothing");
    }
    if (!b.is_object()) fail(path, "a schema must be an object or a boolean");
    for (const auto& [k, v] : b.items()) {
      if (!a.contains(k)) {
        if ((k == "additionalProperties" && a.contains("properties")) ||
            (k == "properties" && a.contains("additionalProperties"))) {
          fail(path, "'allOf' combining 'properties' and 'additionalProperties' of different branches");
        }
        a[k] = v;
        continue;
      }
      Json& x = a[k];
      if (kAnnotations.count(k) || x == v) continue;
      if (k == "type") {
        auto ta = types_of(a, path), tb = types_of(b, path);
        std::vector<std::string> both;
        for (const auto& t : ta) {
          for (const auto& u : tb) {
            if (t == u)
              both.push_back(t);
            else if (t == "integer" && u == "number")
              both.push_back(t);
            else if (t == "number" && u == "integer")
              both.push_back(u);
          }
        }
        if (both.empty()) fail(path, "'allOf' branches have no type in common");
        x = both;
      } else if (k == "properties") {
        for (const auto& [name, sub] : v.items()) {
          if (x.contains(name))
            x[name] = Json{{"allOf", Json::array({x[name], sub})}};
          else
            x[name] = sub;
        }
      } else if (k == "required") {
        for (const auto& r : v) {
          if (std::find(x.begin(), x.end(), r) == x.end()) x.push_back(r);
        }
      } else if (k == "minLength" || k == "minItems" || k == "minimum" || k == "exclusiveMinimum") {
        if (!x.is_number() || !v.is_number()) fail(path, "'allOf' with differing '" + k + "'");
        if (v.get<double>() > x.get<double>()) x = v;
      } else if (k == "maxLength" || k == "maxItems" || k == "maximum" || k == "exclusiveMaximum") {
        if (!x.is_number() || !v.is_number()) fail(path, "'allOf' with differing '" + k + "'");
        if (v.get<double>() < x.get<double>()) x = v;
      } else if (k == "enum") {
        Json kept = Json::array();
        for (const auto& e : x) {
          if (std::find(v.begin(), v.end(), e) != v.end()) kept.push_back(e);
        }
        x = kept;
      } else {
        fail(path, "'allOf' with differing '" + k + "' is not supported");
      }
    }
    return a;
  }

  Json root_;
  std::vector<std::string> rules_;
  std::map<std::string, std::string> refs_;
  size_t next_rule_ = 0;
};

}  // namespace

std::string json_schema_to_gbnf(std::string_view schema_json, std::string_view root_name) {
  Json schema;
  try {
    schema = Json::parse(schema_json);
  } catch (const std::exception& e) {
    throw GrammarError(std::string("json_schema: not valid JSON: ") + e.what());
  }
  return Converter(std::move(schema)).run(root_name);
}

std::string json_object_gbnf() {
  return std::string("root ::= object\n") + kPrimitives;
}

}  // namespace rbees::grammar
