// Constrained-decoding speed: grammar compile time, and the allowed-token mask per generated token,
// for a vocabulary file (llama.cpp's models/ggml-vocab-llama-bpe.gguf: Llama 3's 128k tokens).
// The generated tokens are JSON instances tokenized by the same vocabulary, fed through a matcher
// as a model would: mask, then accept. One thread.
//   rbees-grammar-bench VOCAB.gguf SCHEMA.json INSTANCES.jsonl [GBNF...]

#include "grammar/compiled_grammar.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar/json_schema.hpp"
#include "grammar/token_vocabulary.hpp"
#include "tokenizer/tokenizer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace rbees;
using Clock = std::chrono::steady_clock;

namespace {

double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

void report(const char* what, const std::vector<double>& us) {
  double sum = 0;
  for (double x : us) sum += x;
  std::printf("%-44s n=%-6zu p50=%9.1f us  p90=%9.1f us  p99=%9.1f us  max=%9.1f us  mean=%9.1f us\n", what, us.size(),
              pct(us, 50), pct(us, 90), pct(us, 99), *std::max_element(us.begin(), us.end()),
              sum / static_cast<double>(us.size()));
}

// Masks for every token of every instance, a fresh matcher per instance and pass.
void run_masks(const char* label, const std::shared_ptr<const grammar::CompiledGrammar>& g,
               const tokenizer::Tokenizer& tok, const std::vector<std::string>& instances, int passes) {
  std::vector<double> cached_us, uncached_us;
  size_t ones = 0, total = 0;
  for (bool cache : {true, false}) {
    for (int pass = 0; pass < passes; ++pass) {
      for (const auto& text : instances) {
        grammar::GrammarMatcher m(g, cache);
        for (int32_t id : tok.encode(text, false, false)) {
          const auto t0 = Clock::now();
          const auto mask = m.allowed_tokens();
          (cache ? cached_us : uncached_us).push_back(us_since(t0));
          if (!((mask[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1) || !m.accept(id)) {
            std::fprintf(stderr, "%s: token %d ('%s') refused\n", label, id, tok.token_bytes(id, false).c_str());
            std::exit(1);
          }
          if (cache && pass == 0) {
            for (uint64_t w : mask) ones += static_cast<size_t>(__builtin_popcountll(w));
            ++total;
          }
        }
        if (!m.can_end()) {
          std::fprintf(stderr, "%s: instance incomplete\n", label);
          std::exit(1);
        }
      }
    }
  }
  std::printf("%s: %zu tokens per pass, %d passes, %.0f tokens allowed per step on average\n", label,
              cached_us.size() / static_cast<size_t>(passes), passes,
              static_cast<double>(ones) / static_cast<double>(total));
  report("  mask (per-state mask cache on, as served)", cached_us);
  report("  mask (cache off: every mask computed)", uncached_us);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s VOCAB.gguf SCHEMA.json INSTANCES.jsonl [GBNF...]\n", argv[0]);
    return 2;
  }
  auto t0 = Clock::now();
  const auto tok = tokenizer::Tokenizer::load(argv[1]);
  const double load_ms = us_since(t0) / 1000;
  t0 = Clock::now();
  const auto vocab = grammar::make_vocabulary(tok);
  std::printf("vocabulary: %zu tokens (%s), trie %zu nodes; load %.1f ms, token trie %.1f ms\n", vocab->size(), argv[1],
              vocab->trie.size(), load_ms, us_since(t0) / 1000);

  const std::string schema = read(argv[2]);
  std::vector<std::string> instances;
  {
    std::ifstream in(argv[3]);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) instances.push_back(line);
    }
  }
  std::vector<double> convert_us, compile_us;
  std::shared_ptr<const grammar::CompiledGrammar> g;
  for (int i = 0; i < 10; ++i) {
    t0 = Clock::now();
    const std::string gbnf = grammar::json_schema_to_gbnf(schema);
    convert_us.push_back(us_since(t0));
    t0 = Clock::now();
    g = grammar::compile_gbnf(gbnf, vocab);
    compile_us.push_back(us_since(t0));
  }
  std::printf(
      "schema %s: %zu grammar positions, %zu sorted at compile (%zu left to first use), %.1f MiB of token "
      "tables\n",
      argv[2], g->position_count(), g->position_count() - g->deferred_count(), g->deferred_count(),
      static_cast<double>(g->memory_bytes()) / (1 << 20));
  report("  schema -> GBNF", convert_us);
  report("  compile (GBNF -> token tables)", compile_us);
  const size_t sorted_before = g->sorted_count();
  run_masks("schema instances", g, tok, instances, 3);
  std::printf("  positions sorted on first use during the passes (in the first pass's mask times): %zu\n",
              g->sorted_count() - sorted_before);

  for (int a = 4; a < argc; ++a) {
    t0 = Clock::now();
    auto gg = grammar::compile_gbnf(read(argv[a]), vocab);
    std::printf("grammar %s: compile %.1f ms, %zu positions\n", argv[a], us_since(t0) / 1000, gg->position_count());
    run_masks(argv[a], gg, tok, instances, 3);
  }
  return 0;
}
