#include "chat/model_template.hpp"

#include <gguf.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace rbees::chat {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

bool is_gguf_file(const fs::path& path) {
  if (!fs::is_regular_file(path)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

// A model given as a file that is not GGUF (e.g. model.safetensors or tokenizer.json) stands for its folder.
fs::path model_dir(const fs::path& path) {
  return fs::is_directory(path) ? path : path.parent_path();
}

std::optional<std::string> read_text(const fs::path& path) {
  if (!fs::is_regular_file(path)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<Json> read_json(const fs::path& path) {
  auto text = read_text(path);
  if (!text) return std::nullopt;
  try {
    return Json::parse(*text);
  } catch (const Json::exception& e) {  // parse_error, or out_of_range (1e400)
    throw std::runtime_error(path.string() + ": " + e.what());
  }
}

// chat_template is a string, or a list of {name, template} of which "default" is the chat template.
std::optional<std::string> template_field(const Json& config) {
  auto it = config.find("chat_template");
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    for (const auto& entry : *it) {
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string()) {
        return entry["template"].get<std::string>();
      }
    }
  }
  return std::nullopt;
}

// bos_token / eos_token are a string or an AddedToken object {content: ...}.
std::string token_text(const Json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return "";
}

struct GgufDeleter {
  void operator()(gguf_context* ctx) const { gguf_free(ctx); }
};
using GgufPtr = std::unique_ptr<gguf_context, GgufDeleter>;

GgufPtr open_gguf(const fs::path& path) {
  gguf_init_params params{true, nullptr};
  GgufPtr ctx(gguf_init_from_file(path.c_str(), params));
  if (!ctx) throw std::runtime_error("cannot read GGUF metadata from " + path.string());
  return ctx;
}

std::optional<int64_t> gguf_int(gguf_context* ctx, const char* key) {
  const int64_t id = gguf_find_key(ctx, key);
  if (id < 0) return std::nullopt;
  switch (gguf_get_kv_type(ctx, id)) {
    case GGUF_TYPE_UINT32: return gguf_get_val_u32(ctx, id);
    case GGUF_TYPE_INT32: return gguf_get_val_i32(ctx, id);
    case GGUF_TYPE_UINT64: return static_cast<int64_t>(gguf_get_val_u64(ctx, id));
    case GGUF_TYPE_INT64: return gguf_get_val_i64(ctx, id);
    default: return std::nullopt;
  }
}

std::string gguf_token(gguf_context* ctx, const char* id_key) {
  const auto id = gguf_int(ctx, id_key);
  const int64_t tokens = gguf_find_key(ctx, "tokenizer.ggml.tokens");
  if (!id || *id < 0 || tokens < 0 || gguf_get_kv_type(ctx, tokens) != GGUF_TYPE_ARRAY ||
      gguf_get_arr_type(ctx, tokens) != GGUF_TYPE_STRING || static_cast<size_t>(*id) >= gguf_get_arr_n(ctx, tokens)) {
    return "";
  }
  return gguf_get_arr_str(ctx, tokens, static_cast<size_t>(*id));
}

}  // namespace

std::optional<std::string> find_chat_template(const std::string& model_path) {
  const fs::path path(model_path);
  if (is_gguf_file(path)) {
    GgufPtr ctx = open_gguf(path);
    const int64_t id = gguf_find_key(ctx.get(), "tokenizer.chat_template");
    if (id < 0 || gguf_get_kv_type(ctx.get(), id) != GGUF_TYPE_STRING) return std::nullopt;
    return std::string(gguf_get_val_str(ctx.get(), id));
  }
  const fs::path dir = model_dir(path);
  if (auto text = read_text(dir / "chat_template.jinja")) return text;
  if (auto config = read_json(dir / "tokenizer_config.json")) {
    if (auto t = template_field(*config)) return t;
  }
  if (auto config = read_json(dir / "chat_template.json")) {
    if (auto t = template_field(*config)) return t;
  }
  return std::nullopt;
}

SpecialTokenTexts find_special_token_texts(const std::string& model_path) {
  const fs::path path(model_path);
  if (is_gguf_file(path)) {
    GgufPtr ctx = open_gguf(path);
    return {gguf_token(ctx.get(), "tokenizer.ggml.bos_token_id"), gguf_token(ctx.get(), "tokenizer.ggml.eos_token_id")};
  }
  auto config = read_json(model_dir(path) / "tokenizer_config.json");
  if (!config) return {};
  return {token_text(*config, "bos_token"), token_text(*config, "eos_token")};
}

}  // namespace rbees::chat
