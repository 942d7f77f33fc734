#include "loader/hf_config.hpp"

#include <algorithm>
#include <fstream>

#include "loader/load_error.hpp"

namespace rbees::loader {
namespace {

using nlohmann::json;

const json* find_non_null(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

int get_int(const json& j, const char* key, const std::string& file, std::optional<int> fallback = std::nullopt) {
  const json* v = find_non_null(j, key);
  if (v == nullptr) {
    if (fallback) return *fallback;
    throw LoadError(file, std::string("missing required field '") + key + "'");
  }
  if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() > INT32_MAX)
    throw LoadError(file, std::string("field '") + key + "' must be a non-negative integer");
  return v->get<int>();
}

float get_float(const json& j, const char* key, const std::string& file, float fallback) {
  const json* v = find_non_null(j, key);
  if (v == nullptr) return fallback;
  if (!v->is_number()) throw LoadError(file, std::string("field '") + key + "' must be a number");
  return v->get<float>();
}

bool get_bool(const json& j, const char* key, const std::string& file, bool fallback) {
  const json* v = find_non_null(j, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) throw LoadError(file, std::string("field '") + key + "' must be true or false");
  return v->get<bool>();
}

// Token ids appear as an int, a list of ints, or null.
std::vector<int> get_ids(const json& j, const char* key, const std::string& file) {
  std::vector<int> ids;
  const json* v = find_non_null(j, key);
  if (v == nullptr) return ids;
  auto one = [&](const json& x) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
      throw LoadError(file, std::string("field '") + key + "' must hold non-negative integer token ids");
    ids.push_back(x.get<int>());
  };
  if (v->is_array()) {
    for (const auto& x : *v) one(x);
  } else {
    one(*v);
  }
  return ids;
}

void add_unique(std::vector<int>& to, const std::vector<int>& ids) {
  for (int id : ids)
    if (std::find(to.begin(), to.end(), id) == to.end()) to.push_back(id);
}

std::string dtype_name(const std::string& torch) {
  if (torch == "bfloat16") return "bf16";
  if (torch == "float16") return "f16";
  if (torch == "float32") return "f32";
  return torch;
}

// v5 puts theta and scaling into rope_parameters; v4 has rope_theta beside a rope_scaling object.
RopeConfig parse_rope(const json& config, const std::string& file, int n_ctx_train) {
  RopeConfig rope;
  const json* params = find_non_null(config, "rope_parameters");
  const json* scaling = find_non_null(config, "rope_scaling");
  if (params != nullptr && !params->is_object()) throw LoadError(file, "'rope_parameters' must be an object");
  if (scaling != nullptr && !scaling->is_object()) throw LoadError(file, "'rope_scaling' must be an object");
  rope.theta = get_float(config, "rope_theta", file, rope.theta);
  if (params != nullptr) rope.theta = get_float(*params, "rope_theta", file, rope.theta);
  const json* s = scaling != nullptr ? scaling : params;
  if (s == nullptr) return rope;

  std::string type = "default";
  if (const json* t = find_non_null(*s, "rope_type")) {
    type = t->is_string() ? t->get<std::string>() : "";
  } else if (const json* t2 = find_non_null(*s, "type")) {
    type = t2->is_string() ? t2->get<std::string>() : "";
  }
  if (type == "default") return rope;
  if (type == "linear") {
    rope.scaling = RopeScaling::linear;
  } else if (type == "dynamic") {
    rope.scaling = RopeScaling::dynamic;
  } else if (type == "yarn") {
    rope.scaling = RopeScaling::yarn;
  } else if (type == "llama3") {
    rope.scaling = RopeScaling::llama3;
  } else {
    throw LoadError(file,
                    "unsupported RoPE scaling type '" + type + "' (supported: default, linear, dynamic, yarn, llama3)");
  }
  rope.factor = get_float(*s, "factor", file, 1.0f);
  if (!(rope.factor > 0.0f)) throw LoadError(file, "RoPE scaling 'factor' must be positive");
  rope.low_freq_factor = get_float(*s, "low_freq_factor", file, rope.low_freq_factor);
  rope.high_freq_factor = get_float(*s, "high_freq_factor", file, rope.high_freq_factor);
  if (rope.scaling == RopeScaling::llama3) {
    rope.original_context = get_int(*s, "original_max_position_embeddings", file);
    if (rope.original_context <= 0)
      throw LoadError(file, "llama3 RoPE scaling needs original_max_position_embeddings > 0");
    if (!(rope.high_freq_factor > rope.low_freq_factor))
      throw LoadError(file, "llama3 RoPE scaling needs high_freq_factor > low_freq_factor");
  } else {
    rope.original_context = get_int(*s, "original_max_position_embeddings", file, n_ctx_train);
  }
  return rope;
}

}  // namespace

ModelConfig parse_hf_config(const json& j, const std::string& file) {
  if (!j.is_object()) throw LoadError(file, "config is not a JSON object");
  const json* archs = find_non_null(j, "architectures");
  if (archs == nullptr || !archs->is_array() || archs->empty() || !(*archs)[0].is_string())
    throw LoadError(file, "missing 'architectures'");
  const std::string arch = (*archs)[0].get<std::string>();

  ModelConfig c;
  bool default_attention_bias = false;
  if (arch == "LlamaForCausalLM" || arch == "MistralForCausalLM") {
    c.architecture = "llama";
  } else if (arch == "Qwen2ForCausalLM") {
    c.architecture = "qwen2";
    default_attention_bias = true;
  } else {
    throw LoadError(file, "unsupported architecture '" + arch +
                              "' (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
  }

  c.n_vocab = get_int(j, "vocab_size", file);
  c.n_embd = get_int(j, "hidden_size", file);
  c.n_layer = get_int(j, "num_hidden_layers", file);
  c.n_head = get_int(j, "num_attention_heads", file);
  c.n_head_kv = get_int(j, "num_key_value_heads", file, c.n_head);
  c.n_ff = get_int(j, "intermediate_size", file);
  c.n_ctx_train = get_int(j, "max_position_embeddings", file);
  if (c.n_vocab == 0 || c.n_embd == 0 || c.n_layer == 0 || c.n_head == 0 || c.n_head_kv == 0 || c.n_ff == 0 ||
      c.n_ctx_train == 0)
    throw LoadError(file,
                    "model sizes (vocab_size, hidden_size, layers, heads, intermediate_size, "
                    "max_position_embeddings) must be positive");
  if (c.n_head % c.n_head_kv != 0)
    throw LoadError(file, "num_attention_heads (" + std::to_string(c.n_head) +
                              ") is not a multiple of num_key_value_heads (" + std::to_string(c.n_head_kv) + ")");
  if (find_non_null(j, "head_dim") == nullptr && c.n_embd % c.n_head != 0)
    throw LoadError(file, "hidden_size is not a multiple of num_attention_heads and no head_dim is given");
  c.head_dim = get_int(j, "head_dim", file, c.n_embd / c.n_head);
  if (c.head_dim == 0 || c.head_dim % 2 != 0) throw LoadError(file, "head_dim must be a positive even number");
  c.rms_norm_eps = get_float(j, "rms_norm_eps", file, c.rms_norm_eps);
  c.rope = parse_rope(j, file, c.n_ctx_train);
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", file, false);
  if (c.architecture == "qwen2") {
    c.attention_bias = true;  // Qwen2 always has q/k/v biases and never an o_proj bias
  } else {
    c.attention_bias = get_bool(j, "attention_bias", file, default_attention_bias);
    c.attention_out_bias = c.attention_bias;  // Llama's flag covers o_proj too
  }
  c.mlp_bias = get_bool(j, "mlp_bias", file, false);

  if (arch == "MistralForCausalLM") {
    if (const json* sw = find_non_null(j, "sliding_window")) {
      if (!sw->is_number_integer()) throw LoadError(file, "'sliding_window' must be an integer or null");
      if (sw->get<int64_t>() < c.n_ctx_train)
        throw LoadError(file, "sliding-window attention (sliding_window=" + std::to_string(sw->get<int64_t>()) +
                                  " < max_position_embeddings=" + std::to_string(c.n_ctx_train) + ") is not supported");
    }
  }
  if (arch == "Qwen2ForCausalLM" && get_bool(j, "use_sliding_window", file, false))
    throw LoadError(file, "sliding-window attention (use_sliding_window=true) is not supported");

  auto bos = get_ids(j, "bos_token_id", file);
  if (!bos.empty()) c.bos_token_id = bos.front();
  add_unique(c.eos_token_ids, get_ids(j, "eos_token_id", file));

  std::string dtype;
  if (const json* d = find_non_null(j, "dtype"); d != nullptr && d->is_string())
    dtype = d->get<std::string>();
  else if (const json* t = find_non_null(j, "torch_dtype"); t != nullptr && t->is_string())
    dtype = t->get<std::string>();
  c.source_dtype = dtype_name(dtype);
  return c;
}

void merge_generation_config(ModelConfig& c, const json& g, const std::string& file) {
  if (!g.is_object()) throw LoadError(file, "generation config is not a JSON object");
  add_unique(c.eos_token_ids, get_ids(g, "eos_token_id", file));
  if (!c.bos_token_id) {
    auto bos = get_ids(g, "bos_token_id", file);
    if (!bos.empty()) c.bos_token_id = bos.front();
  }
}

namespace {

json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) throw LoadError(p.string(), "cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {  // parse_error, or out_of_range (1e400)
    throw LoadError(p.string(), std::string("not valid JSON: ") + e.what());
  }
}

}  // namespace

ModelConfig read_hf_config(const std::filesystem::path& dir) {
  const auto config_path = dir / "config.json";
  if (!std::filesystem::exists(config_path))
    throw LoadError(config_path.string(), "missing (not a Hugging Face model directory?)");
  ModelConfig c = parse_hf_config(read_json(config_path), config_path.string());
  const auto gen_path = dir / "generation_config.json";
  if (std::filesystem::exists(gen_path)) merge_generation_config(c, read_json(gen_path), gen_path.string());
  return c;
}

}  // namespace rbees::loader
