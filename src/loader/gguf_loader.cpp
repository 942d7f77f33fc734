#include "loader/gguf_loader.hpp"

#include <gguf.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <memory>

#include "core/log.hpp"
#include "loader/file_mapping.hpp"
#include "loader/load_error.hpp"
#include "loader/progress.hpp"
#include "loader/tensor_layout.hpp"

namespace rbees::loader {
namespace {

struct GgufFree {
  void operator()(gguf_context* c) const { gguf_free(c); }
};
using GgufPtr = std::unique_ptr<gguf_context, GgufFree>;

// Typed metadata access: ggml's getters abort on a type mismatch, so check the type first.
class Metadata {
 public:
  Metadata(const gguf_context* ctx, std::string file, std::string arch)
      : ctx_(ctx), file_(std::move(file)), arch_(std::move(arch)) {}

  std::optional<int64_t> integer(const std::string& key) const {
    int64_t id = gguf_find_key(ctx_, key.c_str());
    if (id < 0) return std::nullopt;
    switch (gguf_get_kv_type(ctx_, id)) {
      case GGUF_TYPE_UINT8: return gguf_get_val_u8(ctx_, id);
      case GGUF_TYPE_INT8: return gguf_get_val_i8(ctx_, id);
      case GGUF_TYPE_UINT16: return gguf_get_val_u16(ctx_, id);
      case GGUF_TYPE_INT16: return gguf_get_val_i16(ctx_, id);
      case GGUF_TYPE_UINT32: return gguf_get_val_u32(ctx_, id);
      case GGUF_TYPE_INT32: return gguf_get_val_i32(ctx_, id);
      case GGUF_TYPE_UINT64: return static_cast<int64_t>(gguf_get_val_u64(ctx_, id));
      case GGUF_TYPE_INT64: return gguf_get_val_i64(ctx_, id);
      default: throw LoadError(file_, "metadata '" + key + "' is not an integer");
    }
  }
  std::optional<double> number(const std::string& key) const {
    int64_t id = gguf_find_key(ctx_, key.c_str());
    if (id < 0) return std::nullopt;
    switch (gguf_get_kv_type(ctx_, id)) {
      case GGUF_TYPE_FLOAT32: return gguf_get_val_f32(ctx_, id);
      case GGUF_TYPE_FLOAT64: return gguf_get_val_f64(ctx_, id);
      default: return static_cast<double>(*integer(key));
    }
  }
  std::optional<std::string> string(const std::string& key) const {
    int64_t id = gguf_find_key(ctx_, key.c_str());
    if (id < 0) return std::nullopt;
    if (gguf_get_kv_type(ctx_, id) != GGUF_TYPE_STRING)
      throw LoadError(file_, "metadata '" + key + "' is not a string");
    return std::string(gguf_get_val_str(ctx_, id));
  }
  std::optional<std::size_t> array_size(const std::string& key) const {
    int64_t id = gguf_find_key(ctx_, key.c_str());
    if (id < 0 || gguf_get_kv_type(ctx_, id) != GGUF_TYPE_ARRAY) return std::nullopt;
    return gguf_get_arr_n(ctx_, id);
  }

  // "<arch>.<key>" as a positive int that fits.
  int arch_int(const std::string& key, std::optional<int> fallback = std::nullopt) const {
    auto v = integer(arch_ + "." + key);
    if (!v) {
      if (fallback) return *fallback;
      throw LoadError(file_, "missing metadata '" + arch_ + "." + key + "'");
    }
    if (*v <= 0 || *v > INT32_MAX) throw LoadError(file_, "metadata '" + arch_ + "." + key + "' is out of range");
    return static_cast<int>(*v);
  }
  std::optional<double> arch_number(const std::string& key) const { return number(arch_ + "." + key); }

 private:
  const gguf_context* ctx_;
  std::string file_;
  std::string arch_;
};

void check_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw LoadError(path, "cannot open");
  char magic[4] = {};
  if (!in.read(magic, 4)) throw LoadError(path, "too short to be a GGUF file");
  if (std::string(magic, 4) != "GGUF") throw LoadError(path, "bad magic: not a GGUF file");
}

ModelConfig read_config(const Metadata& md, const gguf_context* ctx, const std::string& path, const std::string& arch) {
  ModelConfig c;
  c.architecture = arch;
  c.n_embd = md.arch_int("embedding_length");
  c.n_layer = md.arch_int("block_count");
  c.n_ff = md.arch_int("feed_forward_length");
  c.n_head = md.arch_int("attention.head_count");
  c.n_head_kv = md.arch_int("attention.head_count_kv", c.n_head);
  c.n_ctx_train = md.arch_int("context_length");
  if (c.n_head % c.n_head_kv != 0) throw LoadError(path, "head_count is not a multiple of head_count_kv");
  c.head_dim = md.arch_int("attention.key_length", c.n_embd / c.n_head);
  if (md.arch_int("attention.value_length", c.head_dim) != c.head_dim)
    throw LoadError(path, "attention.value_length differs from key_length (not supported)");
  int n_rot = md.arch_int("rope.dimension_count", c.head_dim);
  if (n_rot != c.head_dim)
    throw LoadError(path, "rope.dimension_count " + std::to_string(n_rot) + " differs from the head size " +
                              std::to_string(c.head_dim) + " (partial rotary embeddings are not supported)");
  c.rms_norm_eps = static_cast<float>(md.arch_number("attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope.theta = static_cast<float>(md.arch_number("rope.freq_base").value_or(10000.0));

  std::string scaling = md.string(arch + ".rope.scaling.type").value_or("none");
  if (scaling == "none") {
    c.rope.scaling = RopeScaling::none;
  } else if (scaling == "linear") {
    c.rope.scaling = RopeScaling::linear;
  } else if (scaling == "yarn") {
    c.rope.scaling = RopeScaling::yarn;
  } else if (scaling == "llama3") {
    c.rope.scaling = RopeScaling::llama3;
  } else {
    throw LoadError(path, "unsupported rope.scaling.type '" + scaling + "'");
  }
  if (c.rope.scaling != RopeScaling::none) {
    c.rope.factor = static_cast<float>(md.arch_number("rope.scaling.factor").value_or(1.0));
    if (!(c.rope.factor > 0.0f)) throw LoadError(path, "rope.scaling.factor must be positive");
    c.rope.original_context = md.arch_int("rope.scaling.original_context_length", c.n_ctx_train);
  } else if (auto f = md.arch_number("rope.scale_linear"); f && *f != 1.0) {
    c.rope.scaling = RopeScaling::linear;  // older converters
    c.rope.factor = static_cast<float>(*f);
  }

  // The vocabulary size: explicit, else the token list, else the embedding rows.
  if (auto v = md.integer(arch + ".vocab_size")) {
    c.n_vocab = static_cast<int>(*v);
  } else if (auto n = md.array_size("tokenizer.ggml.tokens")) {
    c.n_vocab = static_cast<int>(*n);
  } else if (int64_t id = gguf_find_tensor(ctx, "token_embd.weight"); id >= 0) {
    c.n_vocab = static_cast<int>(gguf_get_tensor_ne(ctx, id)[1]);
  }
  if (auto bos = md.integer("tokenizer.ggml.bos_token_id")) c.bos_token_id = static_cast<int>(*bos);
  if (auto eos = md.integer("tokenizer.ggml.eos_token_id")) c.eos_token_ids.push_back(static_cast<int>(*eos));
  if (auto eot = md.integer("tokenizer.ggml.eot_token_id");
      eot && std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), *eot) == c.eos_token_ids.end())
    c.eos_token_ids.push_back(static_cast<int>(*eot));

  c.tie_word_embeddings = gguf_find_tensor(ctx, "output.weight") < 0;
  c.attention_bias = gguf_find_tensor(ctx, "blk.0.attn_q.bias") >= 0;
  c.attention_out_bias = gguf_find_tensor(ctx, "blk.0.attn_output.bias") >= 0;
  c.mlp_bias = gguf_find_tensor(ctx, "blk.0.ffn_down.bias") >= 0;
  return c;
}

// ggml's GGUF reader says what is wrong only through its log. While it reads, keep its error lines
// (still passing everything on to whoever listened before) so the LoadError can quote them.
class GgmlErrorCapture {
 public:
  GgmlErrorCapture() {
    ggml_log_get(&prev_, &prev_data_);
    ggml_log_set(&GgmlErrorCapture::on_log, this);
  }
  ~GgmlErrorCapture() { ggml_log_set(prev_, prev_data_); }
  GgmlErrorCapture(const GgmlErrorCapture&) = delete;
  GgmlErrorCapture& operator=(const GgmlErrorCapture&) = delete;

  std::string first_error() const {
    std::string e = errors_.substr(0, errors_.find('\n'));
    return e;
  }

 private:
  static void on_log(ggml_log_level level, const char* text, void* self_ptr) {
    auto* self = static_cast<GgmlErrorCapture*>(self_ptr);
    if (level == GGML_LOG_LEVEL_ERROR || (level == GGML_LOG_LEVEL_CONT && self->last_was_error_)) self->errors_ += text;
    if (level != GGML_LOG_LEVEL_CONT) self->last_was_error_ = level == GGML_LOG_LEVEL_ERROR;
    if (self->prev_ != nullptr) {
      self->prev_(level, text, self->prev_data_);
    } else {
      std::fputs(text, stderr);
    }
  }

  ggml_log_callback prev_ = nullptr;
  void* prev_data_ = nullptr;
  std::string errors_;
  bool last_was_error_ = false;
};

struct Range {
  std::size_t begin, end;
  std::string name;
};

}  // namespace

ModelSource load_gguf_file(const std::string& path, const LoadOptions& options) {
  check_magic(path);
  gguf_init_params params{/*no_alloc=*/true, /*ctx=*/nullptr};
  GgufPtr ctx;
  std::string ggml_error;
  {
    GgmlErrorCapture capture;
    ctx.reset(gguf_init_from_file(path.c_str(), params));
    ggml_error = capture.first_error();
  }
  if (!ctx) {
    while (!ggml_error.empty() && std::isspace(static_cast<unsigned char>(ggml_error.back()))) ggml_error.pop_back();
    throw LoadError(path, "GGUF header or metadata is unreadable (truncated or corrupt file)" +
                              (ggml_error.empty() ? std::string() : ": " + ggml_error));
  }

  auto mapping = std::make_shared<FileMapping>(path);
  ModelSource src;
  src.path = path;

  Metadata md(ctx.get(), path, "");
  auto arch = md.string("general.architecture");
  if (!arch) throw LoadError(path, "missing metadata 'general.architecture'");
  if (*arch != "llama" && *arch != "qwen2")
    throw LoadError(path, "unsupported architecture '" + *arch + "' (supported: llama, qwen2)");
  src.config = read_config(Metadata(ctx.get(), path, *arch), ctx.get(), path, *arch);
  // llama.cpp's converter permutes Llama's Q/K rows for the interleaved rotation; Qwen2 keeps NeoX order.
  src.qk_interleaved = *arch == "llama";

  ProgressReporter progress("load_progress", "validating weights", options.on_progress);
  progress.update(0.0f);
  const std::size_t data_offset = gguf_get_data_offset(ctx.get());
  const std::size_t file_size = mapping->size();
  const int64_t n = gguf_get_n_tensors(ctx.get());
  std::vector<Range> ranges;
  for (int64_t i = 0; i < n; ++i) {
    TensorView v;
    v.name = gguf_get_tensor_name(ctx.get(), i);
    v.file = path;
    const std::string tname = "tensor '" + v.name + "'";
    const int raw_type = gguf_get_tensor_type(ctx.get(), i);
    if (raw_type < 0 || raw_type >= GGML_TYPE_COUNT || ggml_type_size(static_cast<ggml_type>(raw_type)) == 0 ||
        ggml_blck_size(static_cast<ggml_type>(raw_type)) == 0)
      throw LoadError(path, tname + " has invalid or removed ggml type " + std::to_string(raw_type));
    v.type = static_cast<ggml_type>(raw_type);
    const int64_t* ne = gguf_get_tensor_ne(ctx.get(), i);
    v.n_dims = 1;
    for (int d = 0; d < GGML_MAX_DIMS; ++d) {
      if (ne[d] < 0) throw LoadError(path, tname + " has a negative dimension");
      v.ne[d] = ne[d];
      if (ne[d] != 1) v.n_dims = d + 1;
    }
    if (v.ne[0] % ggml_blck_size(v.type) != 0)
      throw LoadError(path, tname + " row length " + std::to_string(v.ne[0]) + " is not a multiple of the " +
                                ggml_type_name(v.type) + " block size");
    // Overflow-checked: ggml's reader computes the element count before checking it for overflow.
    int64_t rows = 0;
    std::size_t size = 0;
    if (__builtin_mul_overflow(v.ne[1], v.ne[2], &rows) || __builtin_mul_overflow(rows, v.ne[3], &rows) ||
        __builtin_mul_overflow(ggml_row_size(v.type, v.ne[0]), static_cast<std::size_t>(rows), &size))
      throw LoadError(path, tname + " shape is too large");
    if (size != gguf_get_tensor_size(ctx.get(), i))
      throw LoadError(path, tname + " size disagrees with its shape and type");
    const std::size_t offset = gguf_get_tensor_offset(ctx.get(), i);
    if (data_offset > file_size || offset > file_size - data_offset || size > file_size - data_offset - offset)
      throw LoadError(path, tname + " data [" + std::to_string(data_offset + offset) + ", " +
                                std::to_string(data_offset + offset + size) + ") runs past the end of the file (" +
                                std::to_string(file_size) + " bytes; truncated?)");
    v.data = mapping->data() + data_offset + offset;
    v.nbytes = size;
    if (size > 0) ranges.push_back({offset, offset + size, v.name});
    src.tensors.emplace(v.name, std::move(v));
    progress.update(static_cast<std::size_t>(i + 1), static_cast<std::size_t>(n));
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  std::size_t reach = 0;
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[reach].end)
      throw LoadError(path, "tensor '" + ranges[i].name + "' data overlaps tensor '" + ranges[reach].name + "'");
    if (ranges[i].end > ranges[reach].end) reach = i;
  }
  if (n == 0) progress.update(1.0f);

  check_tensors(src, path);
  src.config.source_dtype = dominant_weight_type(src);
  mapping->advise_willneed();
  src.mappings.push_back(std::move(mapping));
  log::info("model_loaded", "loaded GGUF model",
            {{"path", path},
             {"architecture", src.config.architecture},
             {"tensors", src.tensors.size()},
             {"dtype", src.config.source_dtype}});
  return src;
}

}  // namespace rbees::loader
