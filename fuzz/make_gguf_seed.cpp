// Writes a tiny but complete Llama GGUF (one layer, width 16, 32 tokens, with a byte-level BPE
// vocabulary) so the GGUF fuzz target starts from a file both loaders accept, small enough for
// libFuzzer to mutate quickly. The real GGUF files are megabytes.
//
//   rbees-make-gguf-seed OUT.gguf [f32|f16]

#include <ggml.h>
#include <gguf.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT.gguf [f32|f16]\n", argv[0]);
    return 2;
  }
  const bool f16 = argc > 2 && std::strcmp(argv[2], "f16") == 0;
  const int n_embd = 16, n_ff = 32, n_vocab = 32, n_head = 2, n_head_kv = 1;

  gguf_context* g = gguf_init_empty();
  gguf_set_val_str(g, "general.architecture", "llama");
  gguf_set_val_str(g, "general.name", "fuzz-seed");
  gguf_set_val_u32(g, "llama.block_count", 1);
  gguf_set_val_u32(g, "llama.context_length", 64);
  gguf_set_val_u32(g, "llama.embedding_length", n_embd);
  gguf_set_val_u32(g, "llama.feed_forward_length", n_ff);
  gguf_set_val_u32(g, "llama.attention.head_count", n_head);
  gguf_set_val_u32(g, "llama.attention.head_count_kv", n_head_kv);
  gguf_set_val_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
  gguf_set_val_f32(g, "llama.rope.freq_base", 10000.0f);
  gguf_set_val_u32(g, "llama.vocab_size", n_vocab);

  // Byte-level BPE vocabulary: printable single characters, two merges and two special tokens.
  std::vector<std::string> tokens = {"<s>", "</s>"};
  for (char c = 'a'; tokens.size() < static_cast<size_t>(n_vocab) - 2; ++c) tokens.push_back(std::string(1, c));
  tokens.push_back("ab");
  tokens.push_back("\xc4\xa0");  // byte-level space
  std::vector<const char*> token_ptrs;
  std::vector<int32_t> types(tokens.size(), 1);
  types[0] = types[1] = 3;
  std::vector<float> scores(tokens.size(), 0.0f);
  for (auto& t : tokens) token_ptrs.push_back(t.c_str());
  const char* merges[] = {"a b"};
  gguf_set_val_str(g, "tokenizer.ggml.model", "gpt2");
  gguf_set_val_str(g, "tokenizer.ggml.pre", "llama-bpe");
  gguf_set_arr_str(g, "tokenizer.ggml.tokens", token_ptrs.data(), token_ptrs.size());
  gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types.data(), types.size());
  gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores.data(), scores.size());
  gguf_set_arr_str(g, "tokenizer.ggml.merges", merges, 1);
  gguf_set_val_u32(g, "tokenizer.ggml.bos_token_id", 0);
  gguf_set_val_u32(g, "tokenizer.ggml.eos_token_id", 1);
  gguf_set_val_str(g, "tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}");

  ggml_init_params params = {64 * 1024 * 1024, nullptr, false};
  ggml_context* ctx = ggml_init(params);
  const ggml_type wtype = f16 ? GGML_TYPE_F16 : GGML_TYPE_F32;
  auto add = [&](const char* name, ggml_type type, int64_t ne0, int64_t ne1) {
    ggml_tensor* t = ne1 ? ggml_new_tensor_2d(ctx, type, ne0, ne1) : ggml_new_tensor_1d(ctx, type, ne0);
    ggml_set_name(t, name);
    std::memset(t->data, 0, ggml_nbytes(t));
    gguf_add_tensor(g, t);
  };
  const int kv = n_embd / n_head * n_head_kv;
  add("token_embd.weight", wtype, n_embd, n_vocab);
  add("output_norm.weight", GGML_TYPE_F32, n_embd, 0);
  add("blk.0.attn_norm.weight", GGML_TYPE_F32, n_embd, 0);
  add("blk.0.attn_q.weight", wtype, n_embd, n_embd);
  add("blk.0.attn_k.weight", wtype, n_embd, kv);
  add("blk.0.attn_v.weight", wtype, n_embd, kv);
  add("blk.0.attn_output.weight", wtype, n_embd, n_embd);
  add("blk.0.ffn_norm.weight", GGML_TYPE_F32, n_embd, 0);
  add("blk.0.ffn_gate.weight", wtype, n_embd, n_ff);
  add("blk.0.ffn_up.weight", wtype, n_embd, n_ff);
  add("blk.0.ffn_down.weight", wtype, n_ff, n_embd);
  const bool ok = gguf_write_to_file(g, argv[1], false);
  gguf_free(g);
  ggml_free(ctx);
  return ok ? 0 : 1;
}
