// Writes a random-weight Llama GGUF of a realistic shape (for benchmarks only: the text it produces is
// noise, so benchmarks run with ignore_eos). The vocabulary and tokenizer metadata are copied from a
// small GGUF whose vocabulary size matches the shape.
//
//   rbees-make-random-gguf --shape tinyllama-1.1b|llama2-7b|overhead-probe --vocab-from FILE.gguf --out FILE.gguf
//   [--type f16|f32]

#include <ggml.h>
#include <gguf.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Shape {
  const char* name;
  int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
  float rope_theta;
};

constexpr Shape kShapes[] = {
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f},
    {"llama2-7b", 4096, 32, 32, 32, 11008, 32000, 4096, 10000.0f},
    // Llama-2-7B's graph (32 layers, head_dim 128, 32000 logits) with almost no arithmetic: its step
    // time is the per-step host overhead.
    {"overhead-probe", 256, 32, 2, 2, 512, 32000, 4096, 10000.0f},
};

// xorshift64*: fast and good enough for weights nobody reads.
struct Rng {
  uint64_t s;
  float next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    uint64_t r = s * 0x2545F4914F6CDD1DULL;
    return static_cast<float>(r >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f;
  }
};

void fill(FILE* f, ggml_type type, int64_t n, float scale, bool ones, uint64_t seed) {
  Rng rng{seed * 0x9E3779B97F4A7C15ULL + 1};
  const int64_t chunk = 1 << 20;
  std::vector<float> buf(chunk);
  std::vector<ggml_fp16_t> half(chunk);
  for (int64_t done = 0; done < n; done += chunk) {
    int64_t m = std::min(chunk, n - done);
    for (int64_t i = 0; i < m; ++i) buf[i] = ones ? 1.0f : rng.next() * scale;
    if (type == GGML_TYPE_F16) {
      ggml_fp32_to_fp16_row(buf.data(), half.data(), m);
      fwrite(half.data(), sizeof(ggml_fp16_t), m, f);
    } else {
      fwrite(buf.data(), sizeof(float), m, f);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string shape_name, vocab_from, out, type_name = "f16";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--shape")
      shape_name = argv[i + 1];
    else if (k == "--vocab-from")
      vocab_from = argv[i + 1];
    else if (k == "--out")
      out = argv[i + 1];
    else if (k == "--type")
      type_name = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  const Shape* shape = nullptr;
  for (const auto& s : kShapes) {
    if (shape_name == s.name) shape = &s;
  }
  if (!shape || vocab_from.empty() || out.empty() || (type_name != "f16" && type_name != "f32")) {
    std::fprintf(stderr,
                 "usage: %s --shape tinyllama-1.1b|llama2-7b|overhead-probe --vocab-from FILE.gguf --out FILE.gguf "
                 "[--type f16|f32]\n",
                 argv[0]);
    return 2;
  }
  const ggml_type wtype = type_name == "f16" ? GGML_TYPE_F16 : GGML_TYPE_F32;

  gguf_init_params ip{true, nullptr};
  gguf_context* src = gguf_init_from_file(vocab_from.c_str(), ip);
  if (!src) {
    std::fprintf(stderr, "cannot read GGUF %s\n", vocab_from.c_str());
    return 1;
  }
  int64_t tok_key = gguf_find_key(src, "tokenizer.ggml.tokens");
  if (tok_key < 0 || static_cast<int>(gguf_get_arr_n(src, tok_key)) != shape->n_vocab) {
    std::fprintf(stderr, "%s: needs a vocabulary of %d tokens\n", vocab_from.c_str(), shape->n_vocab);
    return 1;
  }

  gguf_context* dst = gguf_init_empty();
  std::vector<std::string> foreign;
  for (int64_t i = 0; i < gguf_get_n_kv(src); ++i) {
    std::string key = gguf_get_key(src, i);
    if (key.rfind("tokenizer.", 0) != 0) foreign.push_back(key);
  }
  for (const auto& key : foreign) gguf_remove_key(src, key.c_str());
  gguf_set_kv(dst, src);
  gguf_set_val_str(dst, "general.architecture", "llama");
  gguf_set_val_str(dst, "general.name", (std::string("random ") + shape->name).c_str());
  gguf_set_val_u32(dst, "general.file_type", wtype == GGML_TYPE_F16 ? 1 : 0);
  gguf_set_val_u32(dst, "llama.context_length", shape->n_ctx);
  gguf_set_val_u32(dst, "llama.embedding_length", shape->n_embd);
  gguf_set_val_u32(dst, "llama.block_count", shape->n_layer);
  gguf_set_val_u32(dst, "llama.feed_forward_length", shape->n_ff);
  gguf_set_val_u32(dst, "llama.attention.head_count", shape->n_head);
  gguf_set_val_u32(dst, "llama.attention.head_count_kv", shape->n_head_kv);
  gguf_set_val_f32(dst, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
  gguf_set_val_f32(dst, "llama.rope.freq_base", shape->rope_theta);
  gguf_set_val_u32(dst, "llama.rope.dimension_count", shape->n_embd / shape->n_head);
  gguf_set_val_u32(dst, "llama.vocab_size", shape->n_vocab);

  const int n_tensors_max = 4 + 9 * shape->n_layer;
  ggml_init_params cp{ggml_tensor_overhead() * n_tensors_max, nullptr, true};
  ggml_context* ctx = ggml_init(cp);
  struct Spec {
    ggml_tensor* t;
    bool norm;
  };
  std::vector<Spec> specs;
  auto add = [&](const std::string& name, ggml_type type, int64_t ne0, int64_t ne1, bool norm) {
    ggml_tensor* t = ne1 > 0 ? ggml_new_tensor_2d(ctx, type, ne0, ne1) : ggml_new_tensor_1d(ctx, type, ne0);
    ggml_set_name(t, name.c_str());
    gguf_add_tensor(dst, t);
    specs.push_back({t, norm});
  };
  const int hd = shape->n_embd / shape->n_head;
  add("token_embd.weight", wtype, shape->n_embd, shape->n_vocab, false);
  for (int il = 0; il < shape->n_layer; ++il) {
    std::string p = "blk." + std::to_string(il) + ".";
    add(p + "attn_norm.weight", GGML_TYPE_F32, shape->n_embd, 0, true);
    add(p + "attn_q.weight", wtype, shape->n_embd, shape->n_head * hd, false);
    add(p + "attn_k.weight", wtype, shape->n_embd, shape->n_head_kv * hd, false);
    add(p + "attn_v.weight", wtype, shape->n_embd, shape->n_head_kv * hd, false);
    add(p + "attn_output.weight", wtype, shape->n_head * hd, shape->n_embd, false);
    add(p + "ffn_norm.weight", GGML_TYPE_F32, shape->n_embd, 0, true);
    add(p + "ffn_gate.weight", wtype, shape->n_embd, shape->n_ff, false);
    add(p + "ffn_up.weight", wtype, shape->n_embd, shape->n_ff, false);
    add(p + "ffn_down.weight", wtype, shape->n_ff, shape->n_embd, false);
  }
  add("output_norm.weight", GGML_TYPE_F32, shape->n_embd, 0, true);
  add("output.weight", wtype, shape->n_embd, shape->n_vocab, false);

  FILE* f = std::fopen(out.c_str(), "wb");
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", out.c_str());
    return 1;
  }
  std::vector<uint8_t> meta(gguf_get_meta_size(dst));
  gguf_get_meta_data(dst, meta.data());
  std::fwrite(meta.data(), 1, meta.size(), f);
  const size_t data_start = meta.size();
  uint64_t seed = 1;
  for (size_t i = 0; i < specs.size(); ++i) {
    size_t off = data_start + gguf_get_tensor_offset(dst, static_cast<int64_t>(i));
    long pos = std::ftell(f);
    static const char zeros[64] = {};
    if (static_cast<size_t>(pos) < off) std::fwrite(zeros, 1, off - pos, f);
    const float scale = 0.03f;  // keeps activations finite through many random layers
    fill(f, specs[i].t->type, ggml_nelements(specs[i].t), scale, specs[i].norm, seed++);
  }
  std::fclose(f);
  std::fprintf(stderr, "wrote %s (%s, %s)\n", out.c_str(), shape->name, type_name.c_str());
  gguf_free(dst);
  gguf_free(src);
  ggml_free(ctx);
  return 0;
}
