#pragma once
// `rbees-workerd perplexity`: a model's perplexity over a text file by llama-perplexity's method
// (engine/perplexity.hpp), printed as llama-perplexity prints it so the two can be compared.

#include <CLI/CLI.hpp>

#include <string>

#include "app/common_options.hpp"

namespace rbees::app {

struct PerplexityOptions {
  CommonOptions common;
  std::string model;  // empty: the embedded default model
  std::string file;
  int ctx_size = 512;
  int chunks = -1;  // -1: every whole window
  int batch_size = 2048;
};

CLI::App* add_perplexity_command(CLI::App& app, PerplexityOptions& opts);
int run_perplexity(const PerplexityOptions& opts);

}  // namespace rbees::app
