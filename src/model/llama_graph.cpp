// The forward graph, in the order of the math.
#include <cmath>

#include "model/llama_model.hpp"
#include "ops/attention.hpp"
#include "ops/ffn.hpp"
#include "ops/linear.hpp"
#include "ops/norm.hpp"
#include "ops/rope.hpp"

namespace rbees::model {
namespace {

ggml_tensor* named(ggml_tensor* t, const char* what, int il) {
  ggml_format_name(t, "%s-%d", what, il);
  return t;
}

ggml_tensor* named(ggml_tensor* t, const char* what) {
  ggml_set_name(t, what);
  return t;
}

}  // namespace

LlamaModel::Graph LlamaModel::build_graph(int n_tokens, int n_kv, int n_out, KvCache& kv) {
  if (graph_ctx_ != nullptr) ggml_free(graph_ctx_);
  graph_ctx_ = ggml_init({graph_meta_.size(), graph_meta_.data(), true});
  ggml_context* ctx = graph_ctx_;
  const auto& c = config_;
  const LlamaWeights& w = *weights_;
  const int64_t hd = head_dim_;
  const int64_t n_embd_kv = hd * c.n_head_kv;

  Graph g;
  g.n_tokens = n_tokens;
  g.n_kv = n_kv;
  g.n_out = n_out;
  g.gf = ggml_new_graph_custom(ctx, graph_size_, false);

  g.tokens = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_tokens), "inp_tokens");
  g.positions = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_tokens), "inp_pos");
  g.cells = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I64, n_tokens), "inp_cells");
  g.mask = named(ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_kv, n_tokens), "inp_mask");
  for (ggml_tensor* t : {g.tokens, g.positions, g.cells, g.mask}) ggml_set_input(t);
  if (n_out != n_tokens) {
    g.out_ids = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_out), "inp_out_ids");
    ggml_set_input(g.out_ids);
  }

  const ops::AttentionParams attn{1.0f / std::sqrt(static_cast<float>(hd)), options_.flash_attention};
  // The flash kernels take an F16 mask: convert it once for all layers.
  ggml_tensor* mask = attn.flash ? ggml_cast(ctx, g.mask, GGML_TYPE_F16) : g.mask;

  ggml_tensor* x = named(ggml_get_rows(ctx, w.tok_embd, g.tokens), "embd");
  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = w.layers[il];

    // Attention block.
    ggml_tensor* h = named(ops::rms_norm(ctx, x, L.attn_norm, c.rms_norm_eps), "attn_norm", il);
    ggml_tensor* q = named(ops::linear(ctx, L.wq, h, L.bq), "q", il);
    ggml_tensor* k = named(ops::linear(ctx, L.wk, h, L.bk), "k", il);
    ggml_tensor* v = named(ops::linear(ctx, L.wv, h, L.bv), "v", il);

    q = ggml_reshape_3d(ctx, q, hd, c.n_head, n_tokens);
    k = ggml_reshape_3d(ctx, k, hd, c.n_head_kv, n_tokens);
    q = named(ops::rope(ctx, q, g.positions, w.rope_freqs, rope_), "q_rope", il);
    k = named(ops::rope(ctx, k, g.positions, w.rope_freqs, rope_), "k_rope", il);

    // Store this batch's keys and values in their cells, then attend over the cells in use. The
    // views read the results of set_rows, so the stores come first in the graph. The keys are a
    // flattening view of the RoPE output (not a reshape): GPU backends fuse rope, view, set_rows.
    ggml_tensor* k_rows = ggml_view_2d(ctx, k, n_embd_kv, n_tokens, k->nb[2], 0);
    ggml_tensor* k_all = ggml_set_rows(ctx, kv.k(il), k_rows, g.cells);
    ggml_tensor* v_all = ggml_set_rows(ctx, kv.v(il), v, g.cells);
    const size_t k_es = ggml_element_size(k_all);
    const size_t v_es = ggml_element_size(v_all);
    ggml_tensor* k_cells = ggml_view_3d(ctx, k_all, hd, c.n_head_kv, n_kv, hd * k_es, k_all->nb[1], 0);
    ggml_tensor* v_cells = ggml_view_3d(ctx, v_all, hd, c.n_head_kv, n_kv, hd * v_es, v_all->nb[1], 0);

    ggml_tensor* a = named(ops::attention(ctx, q, k_cells, v_cells, mask, attn), "attn_out_before_o", il);
    a = ggml_reshape_2d(ctx, a, hd * c.n_head, n_tokens);
    a = named(ops::linear(ctx, L.wo, a, L.bo), "attn_block_out", il);

    if (il == c.n_layer - 1 && g.out_ids != nullptr) {
      // Only the rows that want logits matter from here on.
      a = ggml_get_rows(ctx, a, g.out_ids);
      x = ggml_get_rows(ctx, x, g.out_ids);
    }
    x = named(ggml_add(ctx, x, a), "ffn_inp", il);

    // Feed-forward block.
    h = named(ops::rms_norm(ctx, x, L.ffn_norm, c.rms_norm_eps), "ffn_norm", il);
    const ops::SwigluWeights ffn{L.ffn_gate, L.ffn_up, L.ffn_down, L.ffn_gate_b, L.ffn_up_b, L.ffn_down_b};
    ggml_tensor* f = named(ops::swiglu_ffn(ctx, h, ffn), "ffn_out", il);
    x = named(ggml_add(ctx, x, f), "layer_out", il);
  }

  x = named(ops::rms_norm(ctx, x, w.output_norm, c.rms_norm_eps), "final_norm");
  g.logits = named(ops::linear(ctx, w.output, x), "logits");
  ggml_set_output(g.logits);
  ggml_build_forward_expand(g.gf, g.logits);
  return g;
}

}  // namespace rbees::model
