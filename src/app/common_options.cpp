#include "app/common_options.hpp"

#include "app/default_model.hpp"
#include "core/log.hpp"
#include "core/rpc.hpp"

#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rbees::app {

void add_auto_switch(CLI::App& cmd, const std::string& name, std::optional<bool>& on, const std::string& help) {
  cmd.add_option_function<std::string>(
         name, [&on](const std::string& v) { on = v == "auto" ? std::nullopt : std::optional<bool>(v == "on"); }, help)
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->default_str("auto");
}

void add_common_options(CLI::App& cmd, CommonOptions& opts) {
  cmd.add_option("--device", opts.device,
                 "cpu, cuda:N, metal:N, vulkan:N or auto (the first GPU, else the CPU); a comma-separated list "
                 "(cuda:0,cuda:1; cpu,cpu: two CPU backends) splits the model across them")
      ->default_val("auto");
  cmd.add_option("--threads", opts.threads, "CPU threads for computation (0: one per core)")
      ->check(CLI::NonNegativeNumber)
      ->default_val(0);
  add_auto_switch(cmd, "--flash-attn", opts.flash_attn,
                  "Flash attention: on, off, or auto (on for the CPU and for a GPU whose backend has a kernel for the "
                  "model's head size)");
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
  add_auto_switch(cmd, "--decode-buckets", opts.decode_buckets,
                  "Decode steps padded to bucketed sizes (multiples of 8 tokens up to 64, 16 up to 128, then 32) "
                  "so that steps of nearby sizes reuse one graph (a CUDA graph on a GPU): on, off, or auto (on a GPU)");
  add_auto_switch(cmd, "--stable-decode-shapes", opts.stable_decode_shapes,
                  "With --decode-buckets: a padded decode step's graph keeps its shape as its sequences grow, finish "
                  "and start (each stream reads its whole home; the step always reorders its streams), so that a GPU "
                  "replays it: on, off, or auto (on a GPU)");
  cmd.add_option("--sparse-decode-runs", opts.sparse_decode_runs,
                 "A decode step of at most this many tokens whose sequences' homes lie 4 or more regions apart per "
                 "token attends a token at a time over its own home rather than as a batch of streams padded with "
                 "placeholders (the end of a busy run); 0: never")
      ->check(CLI::Range(0, 64))
      ->default_val(0);
  add_auto_switch(cmd, "--fused-projections", opts.fused_projections,
                  "Q, K and V (and the feed-forward gate and up) multiplied as one stacked matrix each where they "
                  "share a type: fewer, larger products with the same values. auto and on: stacked on every device; "
                  "off: one product per matrix");
  add_auto_switch(cmd, "--split-prompt-attention", opts.split_prompt_attention,
                  "A prompt chunk of 128 to 1023 tokens attends as two halves of its rows in one flash attention, "
                  "which lets ggml's CUDA kernel skip the keys its causal mask closes: on, off, or auto (on when every "
                  "device is a CUDA one and --gpu-layers leaves no layer on the CPU)");
  add_auto_switch(cmd, "--inputs-on-device", opts.inputs_on_device,
                  "A graph's inputs (tokens, positions, masks) live in the device's memory and are uploaded on its "
                  "stream ahead of the graph, rather than kept on the host and copied when the graph runs: on, off, or "
                  "auto (on where the whole model is on one device other than the CPU, whose copies can be queued)");
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

void add_split_options(CLI::App& cmd, CommonOptions& opts) {
  cmd.add_option("--rpc", opts.rpc,
                 "Remote devices served by `rbees-workerd rpc-server` (ggml-rpc), HOST:PORT[,HOST:PORT...]: added "
                 "after the --device ones to the model's split. ggml-rpc has no authentication or encryption: "
                 "use trusted networks only");
  cmd.add_option("--split-mode", opts.split_mode,
                 "With several devices: layer (each layer's weights and KV cache on one device, the token embedding "
                 "on the first, the output on the last) or row (matrices split by rows; CUDA devices only)")
      ->check(CLI::IsMember({"layer", "row"}))
      ->default_val("layer");
  cmd.add_option("--tensor-split", opts.tensor_split,
                 "Each device's share of the layers, comma-separated, in device order (--device list, then --rpc); "
                 "default: by free memory when every device is a local GPU, else equal");
  cmd.add_option("--rpc-timeout", opts.rpc_timeout_s,
                 "Seconds a model pass may take with remote devices before the worker counts a remote as lost "
                 "(README: Running across GPUs and hosts)")
      ->check(CLI::PositiveNumber)
      ->default_val(60);
}

namespace {

std::vector<float> parse_shares(const std::string& text) {
  std::vector<float> out;
  if (text.empty()) return out;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t comma = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, comma - begin);
    size_t used = 0;
    float v = 0;
    try {
      v = std::stof(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || !(v >= 0)) {
      throw std::invalid_argument("--tensor-split: '" + item + "' is not a non-negative number");
    }
    out.push_back(v);
    begin = comma + 1;
  }
  return out;
}

}  // namespace

engine::RuntimeOptions runtime_options(const std::string& model, const CommonOptions& opts) {
  engine::RuntimeOptions ro;
  ro.model_path = model.empty() ? default_model_path().string() : model;
  ro.device = opts.device;
  ro.threads = opts.threads;
  ro.flash_attention = opts.flash_attn;
  if (opts.gpu_layers >= 0) ro.gpu_layers = opts.gpu_layers;
  ro.batch_invariant = opts.batch_invariant;
  if (opts.max_graph_tokens > 0) ro.max_graph_tokens = opts.max_graph_tokens;
  ro.decode_buckets = opts.decode_buckets;
  ro.fused_projections = opts.fused_projections;
  ro.split_prompt_attention = opts.split_prompt_attention;
  ro.stable_decode_shapes = opts.stable_decode_shapes;
  ro.sparse_decode_runs = opts.sparse_decode_runs;
  ro.inputs_on_device = opts.inputs_on_device;
  ro.chat_template_path = opts.chat_template;
  for (const auto& ep : core::parse_rpc_endpoints(opts.rpc)) ro.rpc.push_back(ep.str());
  ro.split_mode = opts.split_mode;
  ro.tensor_split = parse_shares(opts.tensor_split);
  ro.rpc_pass_timeout = std::chrono::milliseconds(static_cast<int64_t>(opts.rpc_timeout_s * 1000));
  return ro;
}

void apply_logging(const CommonOptions& opts) {
  log::configure(log::parse_level(opts.log_level), opts.log_format == "json" ? log::Format::json : log::Format::text);
  log::capture_ggml_logs();
}

}  // namespace rbees::app
