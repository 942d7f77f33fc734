// Loads the vocabulary embedded in a GGUF file (tokenizer.ggml.*), with llama.cpp's conventions for
// the SentencePiece ("llama") and byte-level BPE ("gpt2") models and its pre-tokenizer variants.

#include "tokenizer/bpe_model.hpp"
#include "tokenizer/gguf_pre_tokenizers.hpp"
#include "tokenizer/spm_model.hpp"
#include "tokenizer/tokenizer_impl.hpp"

#include <gguf.h>

#include <stdexcept>

namespace fs = std::filesystem;

namespace rbees::tokenizer {
namespace {

// tokenizer.ggml.token_type values.
enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct GgufFile {
  gguf_context* ctx;
  explicit GgufFile(const fs::path& path) {
    gguf_init_params params{.no_alloc = true, .ctx = nullptr};
    ctx = gguf_init_from_file(path.c_str(), params);
    if (ctx == nullptr) throw std::runtime_error("tokenizer: cannot read GGUF file " + path.string());
  }
  ~GgufFile() { gguf_free(ctx); }
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  int64_t key(const char* name) const { return gguf_find_key(ctx, name); }
  std::string str(const char* name, std::string fallback = {}) const {
    const int64_t k = key(name);
    return k >= 0 && gguf_get_kv_type(ctx, k) == GGUF_TYPE_STRING ? gguf_get_val_str(ctx, k) : fallback;
  }
  std::optional<int32_t> id(const char* name) const {
    const int64_t k = key(name);
    if (k < 0) return std::nullopt;
    switch (gguf_get_kv_type(ctx, k)) {
      case GGUF_TYPE_UINT32: return static_cast<int32_t>(gguf_get_val_u32(ctx, k));
      case GGUF_TYPE_INT32: return gguf_get_val_i32(ctx, k);
      default: return std::nullopt;
    }
  }
  std::optional<bool> flag(const char* name) const {
    const int64_t k = key(name);
    if (k < 0 || gguf_get_kv_type(ctx, k) != GGUF_TYPE_BOOL) return std::nullopt;
    return gguf_get_val_bool(ctx, k);
  }
  std::vector<std::string> strings(const char* name) const {
    const int64_t k = key(name);
    std::vector<std::string> out;
    if (k < 0 || gguf_get_kv_type(ctx, k) != GGUF_TYPE_ARRAY || gguf_get_arr_type(ctx, k) != GGUF_TYPE_STRING)
      return out;
    const size_t n = gguf_get_arr_n(ctx, k);
    if (n > kMaxVocabSize) {
      throw std::runtime_error(std::string("tokenizer: GGUF array ") + name + " has " + std::to_string(n) +
                               " entries, more than the limit of " + std::to_string(kMaxVocabSize));
    }
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.emplace_back(gguf_get_arr_str(ctx, k, i));
    return out;
  }
  template <typename T>
  std::vector<T> array(const char* name, gguf_type type) const {
    const int64_t k = key(name);
    if (k < 0 || gguf_get_kv_type(ctx, k) != GGUF_TYPE_ARRAY || gguf_get_arr_type(ctx, k) != type) return {};
    const auto* data = static_cast<const T*>(gguf_get_arr_data(ctx, k));
    return std::vector<T>(data, data + gguf_get_arr_n(ctx, k));
  }
};

}  // namespace

std::shared_ptr<Tokenizer::Impl> load_gguf(const fs::path& path) {
  GgufFile f(path);
  const std::string model = f.str("tokenizer.ggml.model");
  if (model != "llama" && model != "gpt2") {
    throw std::invalid_argument("tokenizer: unsupported GGUF tokenizer model \"" + model + "\" in " + path.string() +
                                " (supported: llama, gpt2)");
  }
  const bool spm = model == "llama";
  auto impl = std::make_shared<Tokenizer::Impl>();
  impl->kind = spm ? "gguf-spm" : "gguf-bpe";
  impl->vocab = std::make_shared<Vocab>();
  Vocab& vocab = *impl->vocab;

  const auto tokens = f.strings("tokenizer.ggml.tokens");
  if (tokens.empty()) throw std::runtime_error("tokenizer: " + path.string() + " has no tokenizer.ggml.tokens");
  vocab.id_to_token = tokens;
  vocab.token_to_id.reserve(tokens.size() * 2);
  for (size_t i = 0; i < tokens.size(); ++i) vocab.token_to_id.emplace(tokens[i], static_cast<int32_t>(i));
  auto types = f.array<int32_t>("tokenizer.ggml.token_type", GGUF_TYPE_INT32);
  types.resize(tokens.size(), kNormal);

  // Control and unknown tokens match as special tokens; user-defined ones always match.
  std::vector<AddedToken> added;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] != kControl && types[i] != kUserDefined && types[i] != kUnknown) continue;
    if (tokens[i].empty()) continue;
    AddedToken a;
    a.content = tokens[i];
    a.id = static_cast<int32_t>(i);
    a.special = types[i] != kUserDefined;
    added.push_back(std::move(a));
  }
  impl->added = AddedTokenMatcher(std::move(added));

  const auto unk = f.id("tokenizer.ggml.unknown_token_id");
  const std::string pre = f.str("tokenizer.ggml.pre", "default");
  bool add_bos = true;
  if (spm) {
    const bool add_space_prefix = f.flag("tokenizer.ggml.add_space_prefix").value_or(true);
    impl->normalizer.add_replace(" ", "\xE2\x96\x81");
    if (add_space_prefix) impl->normalizer.add_prepend("\xE2\x96\x81");
    impl->model = std::make_unique<SpmModel>(impl->vocab, f.array<float>("tokenizer.ggml.scores", GGUF_TYPE_FLOAT32),
                                             unk.value_or(0));
    impl->decoder.add_replace("\xE2\x96\x81", " ");
    impl->decoder.add_byte_fallback();
    if (add_space_prefix) impl->decoder.set_strip(" ", 1, 0);
    impl->bos = f.id("tokenizer.ggml.bos_token_id").value_or(1);
    impl->eos.push_back(f.id("tokenizer.ggml.eos_token_id").value_or(2));
  } else {
    const GgufPreTokenizer variant = gguf_pre_tokenizer(pre);
    for (const auto& pattern : variant.patterns) {
      impl->pre_tokenizer.add_split(std::make_shared<const Regex>(pattern, Regex::Options{.dollar_end_only = true}),
                                    SplitBehavior::isolated, false);
    }
    impl->pre_tokenizer.add_byte_level(false, false);
    std::vector<std::pair<std::string, std::string>> merges;
    for (const auto& m : f.strings("tokenizer.ggml.merges")) {
      const auto space = m.find(' ', 1);
      if (space == std::string::npos) continue;
      merges.emplace_back(m.substr(0, space), m.substr(space + 1));
    }
    BpeModel::Options opts;
    opts.ignore_merges = variant.ignore_merges;
    opts.unk_id = unk;
    impl->model = std::make_unique<BpeModel>(impl->vocab, merges, opts);
    impl->decoder.add_byte_level();
    add_bos = variant.add_bos;
    impl->bos = f.id("tokenizer.ggml.bos_token_id");
    if (auto eos = f.id("tokenizer.ggml.eos_token_id")) impl->eos.push_back(*eos);
  }
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (auto id = f.id(key)) impl->eog.push_back(*id);
  }
  add_bos = f.flag("tokenizer.ggml.add_bos_token").value_or(add_bos);
  if (add_bos && impl->bos) impl->prefix_ids.push_back(*impl->bos);
  if (f.flag("tokenizer.ggml.add_eos_token").value_or(false) && !impl->eos.empty())
    impl->suffix_ids.push_back(impl->eos.front());

  auto text_of = [&](std::optional<int32_t> id) {
    return id && *id >= 0 && static_cast<size_t>(*id) < tokens.size() ? tokens[static_cast<size_t>(*id)]
                                                                      : std::string();
  };
  impl->bos_token = text_of(impl->bos);
  impl->eos_token = impl->eos.empty() ? std::string() : text_of(impl->eos.front());
  impl->chat_template = f.str("tokenizer.chat_template");

  finish_tokenizer(*impl);
  return impl;
}

}  // namespace rbees::tokenizer
