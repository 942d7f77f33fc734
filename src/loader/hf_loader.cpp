#include "loader/hf_loader.hpp"

#include <charconv>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "core/log.hpp"
#include "loader/file_mapping.hpp"
#include "loader/hf_config.hpp"
#include "loader/load_error.hpp"
#include "loader/progress.hpp"
#include "loader/safetensors.hpp"
#include "loader/tensor_layout.hpp"

namespace rbees::loader {
namespace {

const std::pair<const char*, const char*> kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate_proj.bias", "ffn_gate.bias"},
    {"mlp.up_proj.bias", "ffn_up.bias"},
    {"mlp.down_proj.bias", "ffn_down.bias"},
};

std::optional<ggml_type> ggml_type_of(const std::string& dtype) {
  if (dtype == "F32") return GGML_TYPE_F32;
  if (dtype == "F16") return GGML_TYPE_F16;
  if (dtype == "BF16") return GGML_TYPE_BF16;
  return std::nullopt;
}

// The safetensors files of the directory: the shards the index names, or the single file.
std::vector<std::filesystem::path> weight_files(const std::filesystem::path& dir) {
  const auto index = dir / "model.safetensors.index.json";
  if (std::filesystem::exists(index)) {
    nlohmann::json j;
    try {
      std::ifstream in(index);
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range (1e400)
      throw LoadError(index.string(), std::string("not valid JSON: ") + e.what());
    }
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) throw LoadError(index.string(), "missing 'weight_map' object");
    std::set<std::string> names;
    for (const auto& [tensor, file] : wm->items()) {
      if (!file.is_string()) throw LoadError(index.string(), "weight_map entry '" + tensor + "' is not a file name");
      std::string f = file.get<std::string>();
      if (f.find('/') != std::string::npos || f == "..")
        throw LoadError(index.string(), "weight_map entry '" + tensor + "' names a file outside the directory");
      names.insert(f);
    }
    if (names.empty()) throw LoadError(index.string(), "weight_map is empty");
    std::vector<std::filesystem::path> files;
    for (const auto& n : names) files.push_back(dir / n);
    return files;
  }
  const auto single = dir / "model.safetensors";
  if (!std::filesystem::exists(single))
    throw LoadError(dir.string(), "no model.safetensors or model.safetensors.index.json");
  return {single};
}

}  // namespace

std::optional<std::string> hf_to_gguf_name(const std::string& n) {
  if (n == "model.embed_tokens.weight") return "token_embd.weight";
  if (n == "model.norm.weight") return "output_norm.weight";
  if (n == "lm_head.weight") return "output.weight";
  static const std::string kPrefix = "model.layers.";
  if (n.rfind(kPrefix, 0) != 0) return std::nullopt;
  const char* first = n.data() + kPrefix.size();
  const char* last = n.data() + n.size();
  int layer = -1;
  auto [p, ec] = std::from_chars(first, last, layer);
  if (ec != std::errc() || p == first || p == last || *p != '.' || layer < 0) return std::nullopt;
  const std::string rest(p + 1, last);
  for (const auto& [hf, gg] : kLayerNames)
    if (rest == hf) return "blk." + std::to_string(layer) + "." + gg;
  return std::nullopt;
}

ModelSource load_hf_directory(const std::filesystem::path& dir, const LoadOptions& options) {
  ModelSource src;
  src.path = dir.string();
  src.config = read_hf_config(dir);
  src.qk_interleaved = false;
  ProgressReporter progress("load_progress", "validating weights", options.on_progress);
  progress.update(0.0f);

  // Headers first (cheap), so progress can count tensors across all shards.
  std::vector<std::pair<std::shared_ptr<FileMapping>, std::vector<SafetensorsEntry>>> shards;
  std::size_t total = 0, done = 0;
  for (const auto& path : weight_files(dir)) {
    auto mapping = std::make_shared<FileMapping>(path.string());
    auto entries = read_safetensors(*mapping);
    total += entries.size();
    shards.emplace_back(std::move(mapping), std::move(entries));
  }
  for (auto& [mapping, entries] : shards) {
    const std::string& path = mapping->path();
    for (const auto& e : entries) {
      progress.update(++done, total);
      auto gguf_name = hf_to_gguf_name(e.name);
      if (!gguf_name) {
        log::debug("load_skip_tensor", "tensor not used by the model", {{"tensor", e.name}, {"file", path}});
        continue;
      }
      if (*gguf_name == "output.weight" && src.config.tie_word_embeddings) continue;  // a copy of the embeddings
      auto type = ggml_type_of(e.dtype);
      if (!type) throw LoadError(path, "tensor '" + e.name + "' has dtype " + e.dtype + " (supported: F32, F16, BF16)");
      if (e.shape.empty() || e.shape.size() > 4)
        throw LoadError(
            path, "tensor '" + e.name + "' has " + std::to_string(e.shape.size()) + " dimensions (expected 1 to 4)");
      if (src.tensors.count(*gguf_name)) throw LoadError(path, "tensor '" + e.name + "' appears more than once");
      TensorView v;
      v.name = *gguf_name;
      v.source_name = e.name;
      v.type = *type;
      v.n_dims = static_cast<int>(e.shape.size());
      for (int d = 0; d < v.n_dims; ++d) v.ne[d] = e.shape[e.shape.size() - 1 - d];
      v.data = e.data;
      v.nbytes = e.nbytes;
      v.file = path;
      src.tensors.emplace(v.name, std::move(v));
    }
    mapping->advise_willneed();
    src.mappings.push_back(mapping);
  }
  const auto index = dir / "model.safetensors.index.json";
  check_tensors(src, (std::filesystem::exists(index) ? index : dir / "model.safetensors").string());
  std::string dtype = dominant_weight_type(src);
  if (!dtype.empty()) src.config.source_dtype = dtype;
  log::info("model_loaded", "loaded Hugging Face model",
            {{"path", src.path},
             {"architecture", src.config.architecture},
             {"tensors", src.tensors.size()},
             {"dtype", src.config.source_dtype}});
  return src;
}

}  // namespace rbees::loader
