#pragma once
// `rbees-workerd bench`: generation throughput of one model file on this machine: single-stream
// prefill and decode, and aggregate decode with several concurrent streams through the batching
// engine.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "app/common_options.hpp"

namespace rbees::app {

struct BenchOptions {
  CommonOptions common;
  std::string model;  // empty: the embedded default model
  int prompt_tokens = 512;
  int gen_tokens = 128;
  std::vector<int> streams{1, 4, 8, 16};
  int prefill_chunk = 512;
  int repetitions = 1;
  bool profile_ops = false;
  bool json = false;  // one JSON object on stdout instead of the tables
};

CLI::App* add_bench_command(CLI::App& app, BenchOptions& opts);
int run_bench(const BenchOptions& opts);

}  // namespace rbees::app
