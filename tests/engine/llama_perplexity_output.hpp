#pragma once
// Test support: the figures of a llama-perplexity output kept in tests/data/perplexity/, read back
// from its text (the running estimates "[1]x,[2]y,..." and "Final estimate: PPL = X +/- Y"), and the
// same figures from `rbees-workerd perplexity`, which prints them the same way.

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace rbees::testing {

struct PerplexityFigures {
  std::vector<double> running;  // the estimate after each window
  double ppl = 0;
  double error = 0;
};

inline PerplexityFigures parse_perplexity_output(const std::string& text) {
  PerplexityFigures f;
  const std::regex chunk(R"(\[(\d+)\]([0-9]+\.[0-9]+),)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), chunk); it != std::sregex_iterator(); ++it) {
    if (std::stoul((*it)[1]) != f.running.size() + 1) throw std::runtime_error("running estimates out of order");
    f.running.push_back(std::stod((*it)[2]));
  }
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(R"(Final estimate: PPL = ([0-9]+\.[0-9]+) \+/- ([0-9]+\.[0-9]+))"))) {
    throw std::runtime_error("no final estimate in the output");
  }
  f.ppl = std::stod(m[1]);
  f.error = std::stod(m[2]);
  return f;
}

inline std::filesystem::path llama_perplexity_file(const std::string& name) {
  return std::filesystem::path(RBEES_SOURCE_DIR) / "tests" / "data" / "perplexity" / name;
}

// The figures of tests/data/perplexity/<name>.
inline PerplexityFigures llama_perplexity_reference(const std::string& name) {
  std::ifstream in(llama_perplexity_file(name), std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + llama_perplexity_file(name).string());
  return parse_perplexity_output(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

inline double relative_difference(double ours, double reference) {
  return std::abs(ours - reference) / std::abs(reference);
}

}  // namespace rbees::testing
