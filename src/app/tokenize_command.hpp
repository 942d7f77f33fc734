#pragma once
// "tokenize": text to token ids (or ids to text with --decode) through a model's tokenizer, JSON in on
// stdin and JSON out on stdout, for checking tokenization against other implementations.

#include "app/common_options.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace rbees::app {

struct TokenizeOptions {
  CommonOptions common;
  std::string tokenizer;  // tokenizer.json, model directory or GGUF; empty: the embedded default model
  bool no_special = false;
  bool decode = false;
};

CLI::App* add_tokenize_command(CLI::App& app, TokenizeOptions& opts);
int run_tokenize(const TokenizeOptions& opts);

}  // namespace rbees::app
