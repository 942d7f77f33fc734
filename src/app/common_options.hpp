#pragma once
// Options every subcommand takes: logging and device selection.

#include <CLI/CLI.hpp>

#include "engine/model_runtime.hpp"

#include <optional>
#include <string>

namespace rbees::app {

struct CommonOptions {
  std::string log_level = "info";
  std::string log_format = "text";
  std::string device = "auto";
  int threads = 0;
  std::optional<bool> flash_attn;  // auto: unset
  int gpu_layers = -1;             // -1: every layer on the device
  bool batch_invariant = false;
  int max_graph_tokens = 0;                    // 0: the device's default
  std::optional<bool> decode_buckets;          // auto: unset
  std::optional<bool> fused_projections;       // auto: unset
  std::optional<bool> split_prompt_attention;  // auto: unset
  std::optional<bool> stable_decode_shapes;    // auto: unset
  int sparse_decode_runs = 0;
  std::optional<bool> inputs_on_device;  // auto: unset
  std::string chat_template;             // a template file in place of the model's; empty: the model's
  // Several devices (add_split_options): remote ones, the split mode and shares, and how long a
  // pass may wait on a remote device.
  std::string rpc;
  std::string split_mode = "layer";
  std::string tensor_split;
  double rpc_timeout_s = 60;
};

// The runtime options of a model-loading subcommand: the model (empty: the embedded default model),
// device, threads, --flash-attn (auto becomes unset) and --gpu-layers (-1 becomes unset).
engine::RuntimeOptions runtime_options(const std::string& model, const CommonOptions& opts);

// NAME auto|on|off into `on` (auto: unset, the option's default for the device).
void add_auto_switch(CLI::App& cmd, const std::string& name, std::optional<bool>& on, const std::string& help);

void add_common_options(CLI::App& cmd, CommonOptions& opts);
// --rpc, --split-mode, --tensor-split and --rpc-timeout, for the commands that run a model.
void add_split_options(CLI::App& cmd, CommonOptions& opts);

// Applies the logging options; call once the command line is parsed.
void apply_logging(const CommonOptions& opts);

}  // namespace rbees::app
