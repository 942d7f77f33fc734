#include "engine/model_runtime.hpp"

#include <ggml-backend.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/model_template.hpp"
#include "core/device_fault.hpp"
#include "core/log.hpp"
#include "core/rpc.hpp"
#include "loader/load.hpp"
#include "loader/quantize.hpp"

namespace rbees::engine {
namespace {

// Asks the device's backend whether it runs flash attention for this model's shapes (F16 K/V, as the
// model feeds them). The CPU has a kernel for every head size, and there it is the faster path by
// far: the plain path's batched products (one per head, and per head and sequence for the batch
// engine) each end in a thread barrier, which at 16 threads cost more than the attention itself.
bool has_flash_attention(const core::Device& device, const loader::ModelConfig& c) {
  if (device.is_cpu() || device.info().is_remote) return true;  // ggml-rpc runs what its device has
  const int hd = c.head_dim > 0 ? c.head_dim : c.n_embd / c.n_head;
  ggml_init_params ip{ggml_tensor_overhead() * 8, nullptr, true};
  ggml_context* ctx = ggml_init(ip);
  ggml_tensor* q = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, hd, 1, c.n_head);
  ggml_tensor* k = ggml_new_tensor_3d(ctx, GGML_TYPE_F16, hd, 256, c.n_head_kv);
  ggml_tensor* v = ggml_new_tensor_3d(ctx, GGML_TYPE_F16, hd, 256, c.n_head_kv);
  ggml_tensor* mask = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, 256, 1);
  ggml_tensor* fa = ggml_flash_attn_ext(ctx, q, k, v, mask, 1.0f, 0.0f, 0.0f);
  const bool ok = ggml_backend_dev_supports_op(device.info().dev, fa);
  ggml_free(ctx);
  return ok;
}

}  // namespace

std::unique_ptr<ModelRuntime> ModelRuntime::load(const RuntimeOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<ModelRuntime> rt(new ModelRuntime());
  rt->path_ = options.model_path;
  std::filesystem::path p(options.model_path);
  while (!p.empty() && !p.has_filename()) p = p.parent_path();  // "dir/" names "dir"
  rt->name_ = p.filename().string();

  if (options.split_mode != "layer" && options.split_mode != "row") {
    throw std::invalid_argument("split mode '" + options.split_mode + "' is neither layer nor row");
  }
  std::vector<core::DeviceInfo> infos = core::find_devices(options.device);
  if (!options.rpc.empty()) {
    // ggml-rpc aborts on a lost connection: the watch turns that into a reported fault.
    core::install_device_fault_watch();
    core::watch_pass_time(options.rpc_pass_timeout);
    core::set_remote_endpoints(options.rpc);
    for (const std::string& e : options.rpc) {
      auto remote = core::rpc_devices(core::parse_rpc_endpoint(e), options.rpc_connect_timeout);
      infos.insert(infos.end(), remote.begin(), remote.end());
    }
  }
  for (const auto& info : infos) {
    rt->devices_.push_back(std::make_unique<core::Device>(info, options.threads));
    const core::DeviceInfo& d = rt->devices_.back()->info();
    if (infos.size() > 1) {
      log::info("device", "model device",
                {{"device", d.id},
                 {"ggml_device", d.ggml_name},
                 {"description", d.description},
                 {"memory_free", static_cast<unsigned long long>(d.memory_free)},
                 {"memory_total", static_cast<unsigned long long>(d.memory_total)}});
    }
  }
  rt->tokenizer_.emplace(tokenizer::Tokenizer::load(options.model_path));
  std::string chat_source;
  if (!options.chat_template_path.empty()) {
    std::ifstream in(options.chat_template_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw std::runtime_error("cannot read the chat template " + options.chat_template_path);
    chat_source = text.str();
    if (chat_source.empty())
      throw std::invalid_argument("the chat template " + options.chat_template_path + " is empty");
  } else {
    chat_source = rt->tokenizer_->chat_template();
    if (chat_source.empty()) chat_source = chat::find_chat_template(options.model_path).value_or("");
  }
  if (!chat_source.empty()) rt->chat_template_ = std::make_unique<chat::ChatTemplate>(std::move(chat_source));
  {
    // The source's file mappings are only needed while the weights are uploaded.
    loader::ModelSource source = loader::load_model_source(options.model_path);
    if (options.quant) {
      loader::quantize_source(source, *options.quant);
      source.config.source_dtype = ggml_type_name(*options.quant);
    }
    model::ModelOptions mo;
    mo.float_matrix_type = options.float_matrix_type;
    mo.gpu_layers = options.gpu_layers;
    // ggml's CPU kernels multiply bf16 weights with activations rounded to bf16, which drifts from
    // the reference; f16 (what llama.cpp's converter writes) keeps greedy output on the reference.
    if (!mo.float_matrix_type && source.config.source_dtype == "bf16") mo.float_matrix_type = GGML_TYPE_F16;
    // Health and metrics report the type the weights have in memory, not on disk.
    const std::string d = source.config.source_dtype;
    if (mo.float_matrix_type && (d == "bf16" || d == "f16" || d == "f32"))
      source.config.source_dtype = ggml_type_name(*mo.float_matrix_type);
    mo.batch_invariant = options.batch_invariant;
    mo.max_graph_tokens =
        options.max_graph_tokens.value_or(rt->device().is_cpu() ? kDefaultGraphTokensCpu : kDefaultGraphTokensGpu);
    mo.pad_decode_steps = options.decode_buckets.value_or(!rt->device().is_cpu());
    mo.fused_projections = options.fused_projections.value_or(true);
    mo.split_prompt_attention = options.split_prompt_attention;
    mo.stable_decode_shapes = options.stable_decode_shapes;
    mo.sparse_decode_runs = options.sparse_decode_runs;
    mo.inputs_on_device = options.inputs_on_device;
    bool flash = true;
    for (const auto& d : rt->devices_) flash = flash && has_flash_attention(*d, source.config);
    mo.flash_attention = options.flash_attention.value_or(options.batch_invariant || flash);
    for (size_t i = 1; i < rt->devices_.size(); ++i) mo.more_devices.push_back(rt->devices_[i].get());
    mo.tensor_split = options.tensor_split;
    mo.row_split = options.split_mode == "row";
    if (options.batch_invariant) {
      log::info("batch_invariant", "batch-invariant kernels: results do not depend on the batch",
                {{"device", rt->device().info().id}});
    }
    log::info("attention", mo.flash_attention ? "flash attention" : "softmax attention",
              {{"device", rt->device().info().id}});
    rt->model_ = std::make_unique<model::LlamaModel>(source, rt->device(), std::move(mo));
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  log::info("model_ready", "model and tokenizer loaded",
            {{"model", rt->name_},
             {"device", rt->model_->device_shares().size() > 1 ? std::to_string(rt->devices_.size()) + " devices"
                                                               : rt->device().info().id},
             {"tokenizer", std::string(rt->tokenizer_->kind())},
             {"vocab_size", static_cast<unsigned long long>(rt->tokenizer_->vocab_size())},
             {"context_length", rt->context_length()},
             {"load_ms", ms}});
  return rt;
}

bool ModelRuntime::has_remote_devices() const {
  for (const auto& d : devices_) {
    if (d->info().is_remote) return true;
  }
  return false;
}

int ModelRuntime::context_length() const {
  const int n = model_->config().n_ctx_train;
  return n > 0 ? n : 4096;
}

}  // namespace rbees::engine
