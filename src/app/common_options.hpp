#pragma once
// Options every subcommand takes: logging and device selection.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace rbees::app {

struct CommonOptions {
  std::string log_level = "info";
  std::string log_format = "text";
  std::string device = "auto";
  int threads = 0;
  std::string flash_attn = "auto";
};

// --flash-attn as the runtime takes it: unset means auto.
std::optional<bool> flash_attention_choice(const CommonOptions& opts);

void add_common_options(CLI::App& cmd, CommonOptions& opts);

// Applies the logging options; call once the command line is parsed.
void apply_logging(const CommonOptions& opts);

}  // namespace rbees::app
