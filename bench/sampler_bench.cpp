// Times one token's draw (sampling::Sampler) from a logits row, per sampling mode a client may ask
// for, on one thread: the host's share of every step that carries sampled sequences.
// Rows are random (normal, sd 3: a few tokens well above a broad low mass), drawn afresh per row.
// Prints, per vocabulary size and mode, the median and range over --reps repetitions of the mean
// time per row over --rows rows, and a checksum of the drawn ids (equal between two builds that draw
// alike).
//
//   rbees-sampler-bench [--vocab 32000,128256] [--rows 200] [--reps 9]

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "sampling/sampler.hpp"

namespace {

using rbees::sampling::Sampler;
using rbees::sampling::SamplingParams;

struct Mode {
  std::string name;
  std::function<void(SamplingParams&)> set;
  int32_t n_top = -1;  // >= 0: sample_with_logprobs with that many alternatives
};

std::vector<Mode> modes() {
  return {
      {"greedy", [](SamplingParams& p) { p.temperature = 0.0f; }},
      {"temperature 0.8", [](SamplingParams& p) { p.temperature = 0.8f; }},
      {"temperature 1.0", [](SamplingParams& p) { p.temperature = 1.0f; }},
      {"t 0.8, top-p 0.95",
       [](SamplingParams& p) {
         p.temperature = 0.8f;
         p.top_p = 0.95f;
       }},
      {"t 0.8, top-k 40, top-p 0.95, min-p 0.05",
       [](SamplingParams& p) {
         p.temperature = 0.8f;
         p.top_k = 40;
         p.top_p = 0.95f;
         p.min_p = 0.05f;
       }},
      {"t 0.8, frequency penalty 0.5",
       [](SamplingParams& p) {
         p.temperature = 0.8f;
         p.frequency_penalty = 0.5f;
       }},
      {"t 0.8, 5 logprobs", [](SamplingParams& p) { p.temperature = 0.8f; }, 5},
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times a sampled token's draw from a logits row"};
  std::vector<int> vocabs{32000, 128256};
  int rows = 200;
  int reps = 9;
  app.add_option("--vocab", vocabs, "vocabulary sizes")->delimiter(',');
  app.add_option("--rows", rows, "rows per repetition")->check(CLI::PositiveNumber);
  app.add_option("--reps", reps, "repetitions")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::printf("%-8s %-42s %12s %22s %10s\n", "vocab", "mode", "us/row", "(min-max)", "checksum");
  for (int vocab : vocabs) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    // Distinct rows, made before timing; a repetition walks them all.
    std::vector<std::vector<float>> table(static_cast<size_t>(rows), std::vector<float>(static_cast<size_t>(vocab)));
    for (auto& row : table) {
      for (float& l : row) l = normal(rng);
    }
    for (const Mode& mode : modes()) {
      SamplingParams params;
      params.seed = 42;
      mode.set(params);
      std::vector<double> per_row;
      uint64_t checksum = 0;
      for (int r = 0; r < reps; ++r) {
        Sampler sampler(params);
        uint64_t sum = 0;
        const auto t0 = std::chrono::steady_clock::now();
        for (const auto& row : table) {
          const int32_t id = mode.n_top >= 0 ? sampler.sample_with_logprobs(row, mode.n_top).id : sampler.sample(row);
          sum = sum * 31 + static_cast<uint64_t>(id);
        }
        const auto t1 = std::chrono::steady_clock::now();
        per_row.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / rows);
        checksum = sum;
      }
      std::sort(per_row.begin(), per_row.end());
      std::printf("%-8d %-42s %12.1f %10.1f-%-10.1f %10llx\n", vocab, mode.name.c_str(), per_row[per_row.size() / 2],
                  per_row.front(), per_row.back(), static_cast<unsigned long long>(checksum & 0xffffffffffULL));
    }
  }
  return 0;
}
