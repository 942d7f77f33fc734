// Hostile and random templates: the engine either renders or throws TemplateError; it never crashes,
// overflows the stack, exhausts memory or loops without end.
#include "chat/chat_template.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>

namespace rbees::chat {
namespace {

using Json = nlohmann::ordered_json;

const Json kMessages = Json::parse(R"([
  {"role": "system", "content": "You are terse."},
  {"role": "user", "content": "Hello"},
  {"role": "assistant", "content": "Hi", "tool_calls": [{"id": "abc123def", "function": {"name": "f", "arguments": {"a": 1}}}]},
  {"role": "tool", "content": "42", "tool_call_id": "abc123def"},
  {"role": "user", "content": "Bye"}
])");

// Renders; returns false when the template raised TemplateError. Any other exception fails the test.
bool render_or_raise(const std::string& source, RenderOptions opts = {}) {
  opts.date = Date{2026, 11, 22};
  try {
    ChatTemplate(source).render(kMessages, opts);
    return true;
  } catch (const TemplateError&) {
    return false;
  }
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(Robustness, DeepNestingIsASyntaxErrorNotAStackOverflow) {
  EXPECT_FALSE(render_or_raise("{{ " + repeat("(", 100000) + "1" + repeat(")", 100000) + " }}"));
  EXPECT_FALSE(render_or_raise("{{ " + repeat("[", 100000) + repeat("]", 100000) + " }}"));
  EXPECT_FALSE(render_or_raise("{{ " + repeat("not ", 100000) + "x }}"));
  EXPECT_FALSE(render_or_raise("{{ " + repeat("-", 100000) + "1 }}"));
  EXPECT_FALSE(render_or_raise(repeat("{% if true %}", 50000) + "x" + repeat("{% endif %}", 50000)));
}

TEST(Robustness, LongChainsAreBoundedAtRenderTime) {
  // Flat to parse (loops in the parser), deep to evaluate: the evaluation depth limit applies, and
  // freeing the tree does not recurse.
  EXPECT_FALSE(render_or_raise("{{ 'x'" + repeat(" | trim", 100000) + " }}"));
  EXPECT_FALSE(render_or_raise("{{ 1" + repeat(" + 1", 100000) + " }}"));
  EXPECT_FALSE(render_or_raise("{{ messages" + repeat(".x", 100000) + " }}"));
  EXPECT_FALSE(render_or_raise("{{ 1 < 1" + repeat(" + 1", 100000) + " < 2 }}"));
  EXPECT_TRUE(render_or_raise("{{ 'x'" + repeat(" | trim", 50) + " }}"));
}

TEST(Robustness, RecursionAndLoopsAreBounded) {
  EXPECT_FALSE(render_or_raise("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"));
  EXPECT_FALSE(render_or_raise("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}"));
  EXPECT_FALSE(render_or_raise("{% for i in range(1000000000) %}{% endfor %}"));
  EXPECT_FALSE(render_or_raise("{% for i in range(2000) %}{% for j in range(2000) %}{% endfor %}{% endfor %}"));
  EXPECT_FALSE(render_or_raise("{{ 2 ** 100 }}"));
}

TEST(Robustness, OutputAndStringsAreBounded) {
  RenderOptions small;
  small.max_output_bytes = 1 << 16;
  EXPECT_FALSE(render_or_raise("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", small));
  EXPECT_FALSE(render_or_raise("{{ 'a' * 1000000000 }}", small));
  EXPECT_FALSE(render_or_raise("{{ [1] * 1000000000 }}", small));
  EXPECT_FALSE(render_or_raise(
      "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", small));
  EXPECT_FALSE(render_or_raise(
      "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", small));
  EXPECT_TRUE(render_or_raise("{% for i in range(100) %}xxxxxxxxxx{% endfor %}", small));
}

TEST(Robustness, DeeplyNestedValuesAndCyclesDoNotCrash) {
  // A million nested lists: freeing them must not recurse; printing them hits the nesting limit.
  EXPECT_TRUE(render_or_raise(
      "{% set ns = namespace(x=[]) %}{% for i in range(300000) %}{% set ns.x = [ns.x] %}{% endfor %}done"));
  EXPECT_FALSE(render_or_raise(
      "{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}"));
  EXPECT_FALSE(render_or_raise("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns | tojson }}"));
  EXPECT_FALSE(render_or_raise("{% set ns = namespace(l=[]) %}{% set _ = ns.l.append(ns.l) %}"));
}

// Templates to mutate: the reference chat templates when ../shared is present, plus built-in ones.
std::vector<std::string> seed_templates() {
  std::vector<std::string> seeds = {
      "{{ bos_token }}{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content | trim + '<|im_end|>' }}"
      "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\\n{% endif %}",
      "{% set ns = namespace(i=0) %}{% for m in messages if m.role != 'tool' %}{% set ns.i = ns.i + 1 %}"
      "{{ loop.index }}:{{ m.content[::-1] }}{% if not loop.last %},{% endif %}{% endfor %}{{ ns.i }}",
      "{% macro f(x, y=2) %}{{ x * y }}{% endmacro %}{{ f(3) }}{{ messages | map(attribute='role') | unique | "
      "join('|') }}"
      "{{ messages[1:-1] | selectattr('role', 'equalto', 'user') | list | tojson(indent=2) }}",
  };
  const auto refs = std::filesystem::path(RBEES_SHARED_DIR) / "tokenizers/chat-template-refs.json";
  if (std::filesystem::exists(refs)) {
    std::ifstream in(refs);
    const Json parsed = Json::parse(in);
    for (const auto& t : parsed.at("templates")) seeds.push_back(t.at("source").get<std::string>());
  }
  return seeds;
}

std::string mutate(std::string s, std::mt19937& rng) {
  static const char* const kFragments[] = {
      "{{",
      "}}",
      "{%",
      "%}",
      "{#",
      "#}",
      "{%-",
      "-%}",
      "(",
      ")",
      "[",
      "]",
      "{",
      "}",
      "'",
      "\"",
      "|",
      ".",
      ",",
      ":",
      "::-1",
      " if ",
      " else ",
      " for x in messages ",
      "{% endfor %}",
      "{% endif %}",
      "{% set ns.x = 1 %}",
      " loop.index ",
      " | tojson ",
      " | trim ",
      " is defined ",
      " ~ ",
      " + ",
      " * ",
      " ** ",
      " // ",
      " not ",
      " in ",
      "{% macro m(a) %}{{ m(a) }}{% endmacro %}",
      "{{ m(1) }}",
      "range(",
      "namespace(",
      "\xff",
      "\xc3",
      "\x00",
      "raise_exception('x')",
      "{% break %}",
      "{% raw %}",
      "{% call m(1) %}",
      "caller()",
      "\\",
      "\n",
      "  ",
  };
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 4) {
      case 0:  // delete a span
        if (!s.empty()) s.erase(std::min(pos, s.size() - 1), 1 + rng() % 16);
        break;
      case 1:  // insert a syntax fragment
        s.insert(pos, kFragments[rng() % (sizeof kFragments / sizeof *kFragments)]);
        break;
      case 2:  // duplicate a span
        if (!s.empty()) {
          const size_t from = rng() % s.size();
          s.insert(pos, s.substr(from, 1 + rng() % 32));
        }
        break;
      default:  // random bytes
        for (size_t k = 0, n = 1 + rng() % 4; k < n; ++k)
          s.insert(s.begin() + static_cast<long>(std::min(pos, s.size())), static_cast<char>(rng()));
    }
  }
  return s;
}

TEST(Robustness, MutatedTemplatesRenderOrRaise) {
  const std::vector<std::string> seeds = seed_templates();
  std::mt19937 rng(20261122);
  int rendered = 0, raised = 0;
  for (int i = 0; i < 4000; ++i) {
    const std::string source = mutate(seeds[static_cast<size_t>(i) % seeds.size()], rng);
    RenderOptions opts;
    opts.max_output_bytes = 1 << 20;
    opts.add_generation_prompt = i % 2 == 0;
    try {
      (render_or_raise(source, opts) ? rendered : raised) += 1;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "non-template exception " << e.what() << " for:\n" << source;
    }
  }
  std::cout << "mutated templates: " << rendered << " rendered, " << raised << " raised\n";
  EXPECT_GT(rendered, 0);
  EXPECT_GT(raised, 0);
}

TEST(Robustness, RandomByteStringsRenderOrRaise) {
  std::mt19937 rng(7);
  static const char kAlphabet[] = "{}%#-+()[]|.,:'\"~*/ \nabcxyz0123456789=<>!_";
  for (int i = 0; i < 3000; ++i) {
    std::string source;
    const size_t n = rng() % 64;
    for (size_t k = 0; k < n; ++k) {
      source += (rng() % 8 == 0) ? static_cast<char>(rng()) : kAlphabet[rng() % (sizeof kAlphabet - 1)];
    }
    try {
      render_or_raise(source);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "non-template exception " << e.what() << " for: " << source;
    }
  }
}

}  // namespace
}  // namespace rbees::chat
