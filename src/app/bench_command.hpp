#pragma once
// `rbees-workerd bench`: generation throughput of one model file on this machine: single-stream
// prefill and decode, and aggregate decode with several concurrent streams through the batching
// engine, also with every stream under a grammar or JSON schema.

#include <CLI/CLI.hpp>

#include <optional>
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
  // Files whose grammar (GBNF) or JSON Schema constrains every stream of a second aggregate decode
  // measurement, run beside the unconstrained one; empty: none.
  std::string grammar_file;
  std::string json_schema_file;
  bool masks_after_pass = false;         // the baseline: grammar masks computed after each pass, not during it
  std::optional<bool> greedy_on_device;  // unset: the engine's default (on off the CPU)
};

CLI::App* add_bench_command(CLI::App& app, BenchOptions& opts);
int run_bench(const BenchOptions& opts);

}  // namespace rbees::app
