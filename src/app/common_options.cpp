#include "app/common_options.hpp"

#include "app/default_model.hpp"
#include "core/log.hpp"

#include <limits>

namespace rbees::app {

void add_common_options(CLI::App& cmd, CommonOptions& opts) {
  cmd.add_option("--device", opts.device, "cpu, cuda:N, metal:N, vulkan:N or auto (the first GPU, else the CPU)")
      ->default_val("auto");
  cmd.add_option("--threads", opts.threads, "CPU threads for computation (0: one per core)")
      ->check(CLI::NonNegativeNumber)
      ->default_val(0);
  cmd.add_option("--flash-attn", opts.flash_attn,
                 "Flash attention: on, off, or auto (on for the CPU and for a GPU whose backend has a kernel for the "
                 "model's head size)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->default_val("auto");
  cmd.add_option("--gpu-layers", opts.gpu_layers,
                 "Layers on the GPU, counted from the last as llama.cpp's -ngl (the output layer is one more, so "
                 "999 is all); the rest and the token embedding stay on the CPU. -1: all. No effect on a CPU device")
      ->check(CLI::Range(-1, std::numeric_limits<int>::max()))
      ->default_val(-1);
  cmd.add_flag("--batch-invariant", opts.batch_invariant,
               "A request's output does not depend on what else runs with it (CPU only): ggml's reference "
               "kernels and one matrix kernel for every batch size, at the cost of prompt speed (README)");
  cmd.add_option("--max-graph-tokens", opts.max_graph_tokens,
                 "Tokens one forward graph holds (llama.cpp's --ubatch-size); a longer step runs as several graphs. "
                 "0: 2048 on a GPU, 512 on the CPU")
      ->check(CLI::Range(0, 65536))
      ->default_val(0);
  cmd.add_option("--chat-template", opts.chat_template,
                 "A Jinja chat template file used instead of the model's own (it also decides the tool-call syntax)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--log-level", opts.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->default_val("info");
  cmd.add_option("--log-format", opts.log_format, "text (for people) or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_val("text");
}

engine::RuntimeOptions runtime_options(const std::string& model, const CommonOptions& opts) {
  engine::RuntimeOptions ro;
  ro.model_path = model.empty() ? default_model_path().string() : model;
  ro.device = opts.device;
  ro.threads = opts.threads;
  if (opts.flash_attn != "auto") ro.flash_attention = opts.flash_attn == "on";
  if (opts.gpu_layers >= 0) ro.gpu_layers = opts.gpu_layers;
  ro.batch_invariant = opts.batch_invariant;
  if (opts.max_graph_tokens > 0) ro.max_graph_tokens = opts.max_graph_tokens;
  ro.chat_template_path = opts.chat_template;
  return ro;
}

void apply_logging(const CommonOptions& opts) {
  log::configure(log::parse_level(opts.log_level), opts.log_format == "json" ? log::Format::json : log::Format::text);
  log::capture_ggml_logs();
}

}  // namespace rbees::app
