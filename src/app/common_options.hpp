#pragma once
// Options every subcommand takes: logging and device selection.

#include <CLI/CLI.hpp>

#include <string>

namespace rbees::app {

struct CommonOptions {
  std::string log_level = "info";
  std::string log_format = "text";
  std::string device = "auto";
  int threads = 0;
};

void add_common_options(CLI::App& cmd, CommonOptions& opts);

// Applies the logging options; call once the command line is parsed.
void apply_logging(const CommonOptions& opts);

}  // namespace rbees::app
