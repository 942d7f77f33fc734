#pragma once
// `rbees-workerd generate`: one prompt, its continuation streamed to stdout.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "app/common_options.hpp"

namespace rbees::app {

struct GenerateOptions {
  CommonOptions common;
  std::string model;  // empty: the embedded default model
  std::string prompt;
  std::optional<int> max_tokens;
  float temperature = 1.0f;
  std::optional<uint64_t> seed;
  int top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repeat_penalty = 1.0f;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  bool chat = false;
  int ctx_size = 0;
};

CLI::App* add_generate_command(CLI::App& app, GenerateOptions& opts);
int run_generate(const GenerateOptions& opts);

}  // namespace rbees::app
