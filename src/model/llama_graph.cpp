// The forward graph, in the order of the math.
#include <cmath>
#include <vector>

#include "model/llama_model.hpp"
#include "ops/attention.hpp"
#include "ops/decode_attention.hpp"
#include "ops/ffn.hpp"
#include "ops/gather_rows.hpp"
#include "ops/linear.hpp"
#include "ops/logit_mask.hpp"
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

// The attention's parts (stream groups, gathered tokens, runs), each [n_q, rows], as one tensor of
// their rows in order. Each part is written into its rows once: a chain of concats would copy all
// the rows before it again at every part, which for a prompt step of several chunks is most of the
// step's copying. ggml keeps a set's offset under 1 GiB: past that, concats.
ggml_tensor* join_rows(ggml_context* ctx, const std::vector<ggml_tensor*>& parts) {
  if (parts.size() == 1) return parts.front();
  size_t bytes = 0;
  for (ggml_tensor* p : parts) bytes += ggml_nbytes(p);
  if (bytes >= (size_t{1} << 30)) {
    ggml_tensor* a = parts.front();
    for (size_t i = 1; i < parts.size(); ++i) a = ggml_concat(ctx, a, parts[i], 1);
    return a;
  }
  const int64_t width = parts.front()->ne[0];
  ggml_tensor* a = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, width, static_cast<int64_t>(bytes / sizeof(float)) / width);
  size_t at = 0;
  for (ggml_tensor* p : parts) {
    a = ggml_set_2d_inplace(ctx, a, p, a->nb[1], at);
    at += ggml_nbytes(p);
  }
  return a;
}

}  // namespace

// Views are left to the scheduler, which places a view with the tensor it views: a view placed on
// another device than its source would point into memory that device cannot read (a slice of a
// mask made on the first device, read by a layer on a remote one); its consumer then gets a copy.
void LlamaModel::pin_nodes(ggml_cgraph* gf, int from, ggml_backend_t backend) {
  for (int i = from; i < ggml_graph_n_nodes(gf); ++i) {
    ggml_tensor* node = ggml_graph_node(gf, i);
    if (node->view_src == nullptr) ggml_backend_sched_set_tensor_backend(sched_, node, backend);
  }
}

LlamaModel::Graph LlamaModel::build_graph(const Shape& shape, KvCache& kv) {
  if (graph_ctx_ != nullptr) ggml_free(graph_ctx_);
  graph_ctx_ = ggml_init({graph_meta_.size(), graph_meta_.data(), true});
  ggml_context* ctx = graph_ctx_;
  const auto& c = config_;
  const LlamaWeights& w = *weights_;
  const int64_t hd = head_dim_;
  const int64_t n_embd_kv = hd * c.n_head_kv;
  const int n_tokens = shape.n_tokens;
  const int n_s = shape.attn.n_stream_tokens;  // tokens attending over their home regions
  const int n_g = shape.attn.n_general;        // tokens attending over the cache's first n_kv cells

  Graph g;
  g.shape = shape;
  g.gf = ggml_new_graph_custom(ctx, graph_size_, false);

  g.tokens = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_tokens), "inp_tokens");
  g.positions = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_tokens), "inp_pos");
  g.cells = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I64, n_tokens), "inp_cells");
  for (ggml_tensor* t : {g.tokens, g.positions, g.cells}) ggml_set_input(t);
  if (n_g > 0) {
    g.mask = named(ggml_new_tensor_2d(ctx, GGML_TYPE_F16, shape.attn.n_kv, n_g), "inp_mask");
    ggml_set_input(g.mask);
  }
  if (shape.attn.run_mask_values > 0) {
    g.run_mask = named(ggml_new_tensor_1d(ctx, GGML_TYPE_F16, shape.attn.run_mask_values), "inp_run_mask");
    ggml_set_input(g.run_mask);
  }
  if (shape.attn.gather_ints > 0) {
    g.gather = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, shape.attn.gather_ints), "inp_gather");
    ggml_set_input(g.gather);
  }
  const auto& groups = shape.attn.groups;
  if (n_s > 0) {
    // One group (the usual case) reads its mask as it is; several read views of one input.
    g.region_mask = groups.size() == 1
                        ? ggml_new_tensor_4d(ctx, GGML_TYPE_F16, groups[0].window, 1, 1, groups[0].n_streams)
                        : ggml_new_tensor_1d(ctx, GGML_TYPE_F16, shape.attn.region_mask_values);
    named(g.region_mask, "inp_region_mask");
    ggml_set_input(g.region_mask);
    if (!shape.attn.streams_in_order) {
      g.stream_rows = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, shape.attn.n_streams), "inp_stream_rows");
      g.token_streams = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_s), "inp_token_streams");
      ggml_set_input(g.stream_rows);
      ggml_set_input(g.token_streams);
    }
  }
  if (shape.attn.n_gathered > 0) {
    g.gathered_cells =
        named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32,
                                 static_cast<int64_t>(shape.attn.gathered_window) * shape.attn.n_gathered),
              "inp_gathered_cells");
    g.gathered_mask =
        named(ggml_new_tensor_4d(ctx, GGML_TYPE_F16, shape.attn.gathered_window, 1, 1, shape.attn.n_gathered),
              "inp_gathered_mask");
    ggml_set_input(g.gathered_cells);
    ggml_set_input(g.gathered_mask);
  }
  if (shape.n_out != n_tokens) {
    g.out_ids = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, shape.n_out), "inp_out_ids");
    ggml_set_input(g.out_ids);
  }

  const ops::LinearOptions lin{options_.batch_invariant};
  const ops::AttentionParams attn{1.0f / std::sqrt(static_cast<float>(hd)), options_.flash_attention};
  // Inputs in host memory (inputs_on_device_ unset): the scheduler gives each split a copy of every
  // input tensor it reads. The layers read their own views of these, so off the CPU one device-side
  // copy is made here and viewed instead: else each layer's view is copied from the host (a
  // whole-span mask of 2048 tokens over 229k cells, 0.9 GB, 32 times over for a 7B model).
  auto on_device = [&](ggml_tensor* t) {
    return t != nullptr && !device_.is_cpu() && !inputs_on_device_ ? ggml_cont(ctx, t) : t;
  };
  ggml_tensor* mask = on_device(g.mask);
  ggml_tensor* region_mask = groups.size() > 1 ? on_device(g.region_mask) : g.region_mask;
  ggml_tensor* stream_rows = groups.size() > 1 ? on_device(g.stream_rows) : g.stream_rows;
  ggml_tensor* run_mask = on_device(g.run_mask);
  ggml_tensor* gather = on_device(g.gather);
  ggml_tensor* gathered_cells = on_device(g.gathered_cells);

  // Where the model runs on the CPU, decode tokens and runs shorter than ggml's tiled flash kernel
  // takes attend through the CPU op, whichever path they take, so that a token's attention sums alike
  // alone and in any batch; longer prompt chunks take the tiled kernel.
  auto attend = [&](ggml_tensor* q_, ggml_tensor* k_, ggml_tensor* v_, ggml_tensor* m_, int queries) {
    if (cpu_decode_attention_ && queries < ops::kCpuTiledAttentionQueries) {
      return ops::decode_attention_cpu(ctx, ggml_scale(ctx, q_, attn.scale), k_, v_, m_);
    }
    return ops::attention(ctx, q_, k_, v_, m_, attn);
  };

  // The first node of each device segment lives in memory kept for this width of the step (see
  // GraphIdentity): ggml's CUDA backend keys its CUDA graphs by it.
  // Padded decode steps of one width may differ in their streams (the regions they reach, from
  // where): keyed apart too (a hash in 20 bits), so that one CUDA graph is mostly updated with its
  // own topology's parameters.
  uint64_t streams_key = static_cast<uint64_t>(shape.attn.n_streams);
  for (const StreamGroup& grp : shape.attn.groups)
    streams_key = streams_key * 1000003u + static_cast<uint64_t>(grp.first);
  ggml_context* opening = graph_identity_->begin(static_cast<uint64_t>(n_tokens) << 40 |
                                                 static_cast<uint64_t>(shape.n_out) << 20 | (streams_key & 0xFFFFFu));
  ggml_tensor* x = named(ggml_get_rows(opening, w.tok_embd, g.tokens), "embd");
  ggml_build_forward_expand(g.gf, x);
  const bool pin = !layer_backends_.empty();
  int pinned = 0;  // nodes placed so far
  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = w.layers[il];
    const bool opens_segment = pin && il > 0 && layer_backends_[il] != layer_backends_[il - 1];

    // Attention block.
    ggml_tensor* h =
        named(ops::rms_norm(opens_segment ? opening : ctx, x, L.attn_norm, c.rms_norm_eps), "attn_norm", il);
    if (opens_segment) ggml_build_forward_expand(g.gf, h);
    const int64_t n_q = hd * c.n_head;  // one token's queries, flattened
    ggml_tensor* q = nullptr;
    ggml_tensor* k = nullptr;
    ggml_tensor* v = nullptr;
    if (L.wqkv != nullptr) {
      // One product; Q, K and V are views of its rows' parts (RoPE and the cache stores read them
      // strided).
      ggml_tensor* qkv = named(ops::linear(ctx, L.wqkv, h, L.bqkv, lin), "qkv", il);
      const size_t es = ggml_element_size(qkv);
      q = named(ggml_view_2d(ctx, qkv, n_q, n_tokens, qkv->nb[1], 0), "q", il);
      k = named(ggml_view_2d(ctx, qkv, n_embd_kv, n_tokens, qkv->nb[1], n_q * es), "k", il);
      v = named(ggml_view_2d(ctx, qkv, n_embd_kv, n_tokens, qkv->nb[1], (n_q + n_embd_kv) * es), "v", il);
      q = ggml_view_3d(ctx, q, hd, c.n_head, n_tokens, hd * es, q->nb[1], 0);
      k = ggml_view_3d(ctx, k, hd, c.n_head_kv, n_tokens, hd * es, k->nb[1], 0);
    } else {
      q = ggml_reshape_3d(ctx, named(ops::linear(ctx, L.wq, h, L.bq, lin), "q", il), hd, c.n_head, n_tokens);
      k = ggml_reshape_3d(ctx, named(ops::linear(ctx, L.wk, h, L.bk, lin), "k", il), hd, c.n_head_kv, n_tokens);
      v = named(ops::linear(ctx, L.wv, h, L.bv, lin), "v", il);
    }
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

    std::vector<ggml_tensor*> parts;  // the attention's rows, part by part in batch order
    if (n_s > 0) {
      // Homes as batches of streams, one per home size: [head_dim, n_head_kv, window, n_streams], one
      // query each, stream j over the home from region first + j * span.
      ggml_tensor* q_all = ggml_view_2d(ctx, q, n_q, n_s, q->nb[2], 0);
      int64_t first = 0;       // the group's first stream
      int64_t mask_first = 0;  // its first mask value
      for (const StreamGroup& grp : groups) {
        ggml_tensor* qs = q_all;
        if (!shape.attn.streams_in_order) {
          ggml_tensor* rows = groups.size() == 1 ? stream_rows
                                                 : ggml_view_1d(ctx, stream_rows, grp.n_streams,
                                                                first * ggml_element_size(stream_rows));
          qs = ggml_get_rows(ctx, qs, rows);
        }
        qs = ggml_reshape_4d(ctx, qs, hd, c.n_head, 1, grp.n_streams);
        const size_t k_home = k_all->nb[1] * kv.region_size() * grp.span;
        const size_t v_home = v_all->nb[1] * kv.region_size() * grp.span;
        ggml_tensor* ks = ggml_view_4d(ctx, k_all, hd, c.n_head_kv, grp.window, grp.n_streams, hd * k_es, k_all->nb[1],
                                       k_home, k_home / grp.span * grp.first);
        ggml_tensor* vs = ggml_view_4d(ctx, v_all, hd, c.n_head_kv, grp.window, grp.n_streams, hd * v_es, v_all->nb[1],
                                       v_home, v_home / grp.span * grp.first);
        ggml_tensor* ms = region_mask;
        if (groups.size() > 1) {
          const size_t es = ggml_element_size(region_mask);
          ms = ggml_view_4d(ctx, region_mask, grp.window, 1, 1, grp.n_streams, grp.window * es, grp.window * es,
                            grp.window * es, mask_first * es);
        }
        ggml_tensor* ag =
            ggml_reshape_2d(ctx, named(attend(qs, ks, vs, ms, 1), "attend_streams", il), n_q, grp.n_streams);
        parts.push_back(ag);
        first += grp.n_streams;
        mask_first += static_cast<int64_t>(grp.window) * grp.n_streams;
      }
      if (!shape.attn.streams_in_order) {
        ggml_tensor* a_s = ggml_get_rows(ctx, join_rows(ctx, parts), g.token_streams);
        parts.assign(1, a_s);
      }
    }
    if (shape.attn.n_gathered > 0) {
      // Sequences that outgrew their regions, batched: each one's cells gathered in position order
      // (padded with its first cell, masked out) as a stream of its own, one query each.
      const int n_gs = shape.attn.n_gathered;
      const int64_t w = shape.attn.gathered_window;
      ggml_tensor* qg = ggml_view_2d(ctx, q, n_q, n_gs, q->nb[2], n_s * q->nb[2]);
      qg = ggml_reshape_4d(ctx, qg, hd, c.n_head, 1, n_gs);
      ggml_tensor* kg = ggml_reshape_4d(ctx, ops::gather_rows(ctx, k_all, gathered_cells), hd, c.n_head_kv, w, n_gs);
      ggml_tensor* vg = ggml_reshape_4d(ctx, ops::gather_rows(ctx, v_all, gathered_cells), hd, c.n_head_kv, w, n_gs);
      ggml_tensor* ag =
          ggml_reshape_2d(ctx, named(attend(qg, kg, vg, g.gathered_mask, 1), "attend_gathered", il), n_q, n_gs);
      parts.push_back(ag);
    }
    for (const AttentionRun& r : shape.attn.runs) {
      if (r.half_rows > 0) {
        // Two halves of the run's rows as two sequences over one window, its keys and values read
        // twice through a stride of 0 (KvAttention::split_run); a borrowed row's output is dropped.
        const int64_t h = r.half_rows;
        const int64_t rows = r.mask_rows() / 2;
        const int64_t first = static_cast<int64_t>(r.region) * kv.region_size();
        ggml_tensor* qh = ggml_view_4d(ctx, q, hd, c.n_head, h, 2, q->nb[1], q->nb[2], h * q->nb[2],
                                       (r.begin + r.half_shift) * q->nb[2]);
        ggml_tensor* kh =
            ggml_view_4d(ctx, k_all, hd, c.n_head_kv, r.window, 2, hd * k_es, k_all->nb[1], 0, first * k_all->nb[1]);
        ggml_tensor* vh =
            ggml_view_4d(ctx, v_all, hd, c.n_head_kv, r.window, 2, hd * v_es, v_all->nb[1], 0, first * v_all->nb[1]);
        const size_t es = ggml_element_size(run_mask);
        const size_t row = static_cast<size_t>(r.window) * es;
        ggml_tensor* mh =
            ggml_view_4d(ctx, run_mask, r.window, rows, 1, 2, row, rows * row, rows * row, r.mask_at * es);
        ggml_tensor* ah = ggml_reshape_2d(
            ctx, named(attend(qh, kh, vh, mh, static_cast<int>(h)), "attend_run_halves", il), n_q, 2 * h);
        if (2 * h != r.n_tokens) ah = ggml_view_2d(ctx, ah, n_q, r.n_tokens, ah->nb[1], -r.half_shift * ah->nb[1]);
        parts.push_back(ah);
        continue;
      }
      ggml_tensor* qr = ggml_view_3d(ctx, q, hd, c.n_head, r.n_tokens, q->nb[1], q->nb[2], r.begin * q->nb[2]);
      ggml_tensor* kr = nullptr;
      ggml_tensor* vr = nullptr;
      ggml_tensor* mr = nullptr;
      if (r.gathered) {
        // The sequence's cells in position order, copied in the cache's type.
        ggml_tensor* idx = ggml_view_1d(ctx, gather, r.window, r.gather_at * ggml_element_size(gather));
        kr = ggml_reshape_3d(ctx, ops::gather_rows(ctx, k_all, idx), hd, c.n_head_kv, r.window);
        vr = ggml_reshape_3d(ctx, ops::gather_rows(ctx, v_all, idx), hd, c.n_head_kv, r.window);
        const size_t es = ggml_element_size(run_mask);
        mr = ggml_view_2d(ctx, run_mask, r.window, r.n_tokens, r.window * es, r.mask_at * es);
      } else if (r.region >= 0) {
        // The sequence's home region: its cells only, not every sequence's.
        const int64_t first = static_cast<int64_t>(r.region) * kv.region_size();
        kr = ggml_view_3d(ctx, k_all, hd, c.n_head_kv, r.window, hd * k_es, k_all->nb[1], first * k_all->nb[1]);
        vr = ggml_view_3d(ctx, v_all, hd, c.n_head_kv, r.window, hd * v_es, v_all->nb[1], first * v_all->nb[1]);
        const size_t es = ggml_element_size(run_mask);
        mr = ggml_view_2d(ctx, run_mask, r.window, r.n_tokens, r.window * es, r.mask_at * es);
      } else {
        kr = ggml_view_3d(ctx, k_all, hd, c.n_head_kv, shape.attn.n_kv, hd * k_es, k_all->nb[1], 0);
        vr = ggml_view_3d(ctx, v_all, hd, c.n_head_kv, shape.attn.n_kv, hd * v_es, v_all->nb[1], 0);
        mr = ggml_view_2d(ctx, mask, shape.attn.n_kv, r.n_tokens, mask->nb[1], r.mask_at * mask->nb[1]);
      }
      ggml_tensor* ar = ggml_reshape_2d(ctx,
                                        named(attend(qr, kr, vr, mr, r.n_tokens),
                                              r.gathered      ? "attend_run_gathered"
                                              : r.region >= 0 ? "attend_run_region"
                                                              : "attend_run_span",
                                              il),
                                        n_q, r.n_tokens);
      parts.push_back(ar);
    }
    ggml_tensor* a =
        named(ggml_reshape_3d(ctx, join_rows(ctx, parts), hd, c.n_head, n_tokens), "attn_out_before_o", il);
    a = ggml_reshape_2d(ctx, a, n_q, n_tokens);
    a = named(ops::linear(ctx, L.wo, a, L.bo, lin), "attn_block_out", il);

    if (il == c.n_layer - 1 && g.out_ids != nullptr) {
      // Only the rows that want logits matter from here on.
      a = ggml_get_rows(ctx, a, g.out_ids);
      x = ggml_get_rows(ctx, x, g.out_ids);
    }
    x = named(ggml_add(ctx, x, a), "ffn_inp", il);

    // Feed-forward block.
    h = named(ops::rms_norm(ctx, x, L.ffn_norm, c.rms_norm_eps), "ffn_norm", il);
    const ops::SwigluWeights ffn{L.ffn_gate, L.ffn_up,     L.ffn_down,    L.ffn_gate_b,
                                 L.ffn_up_b, L.ffn_down_b, L.ffn_gate_up, L.ffn_gate_up_b};
    ggml_tensor* f = named(ops::swiglu_ffn(ctx, h, ffn, lin), "ffn_out", il);
    x = named(ggml_add(ctx, x, f), "layer_out", il);
    if (pin) {
      // The layer's nodes (its cache writes included) run where its weights and cache are.
      ggml_build_forward_expand(g.gf, x);
      pin_nodes(g.gf, pinned, layer_backends_[il]);
      pinned = ggml_graph_n_nodes(g.gf);
    }
  }

  const bool output_opens_segment = pin && output_backend_ != layer_backends_.back();
  x = named(ops::rms_norm(output_opens_segment ? opening : ctx, x, w.output_norm, c.rms_norm_eps), "final_norm");
  if (output_opens_segment) ggml_build_forward_expand(g.gf, x);
  g.logits = named(ops::linear(ctx, w.output, x, nullptr, lin), "logits");
  ggml_set_output(g.logits);
  ggml_build_forward_expand(g.gf, g.logits);
  if (shape.argmax) {
    ggml_tensor* scores = g.logits;
    if (shape.argmax_masked) {
      // The rows' bitsets travel as bytes, each expanded on the device to its 8 mask values (0 or
      // -inf): an eighth of the host's writes and a quarter of the upload of F16 values per token.
      g.logit_mask_bytes =
          named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, static_cast<int64_t>(c.n_vocab + 7) / 8 * shape.n_out),
                "inp_logit_mask_bytes");
      ggml_set_input(g.logit_mask_bytes);
      g.logit_mask_table = named(ggml_new_tensor_2d(ctx, GGML_TYPE_F16, 8, 256), "inp_logit_mask_table");
      ggml_set_input(g.logit_mask_table);
      ggml_tensor* mask = ops::expand_logit_mask(ctx, g.logit_mask_bytes, g.logit_mask_table, c.n_vocab, shape.n_out);
      scores = named(ggml_add(ctx, g.logits, named(mask, "logit_mask")), "masked_logits");
      ggml_set_output(scores);  // kept whole: the CPU's picks are made again from it (read_chunk)
    }
    g.argmax = named(ggml_argmax(ctx, scores), "argmax");
    ggml_set_output(g.argmax);
    ggml_build_forward_expand(g.gf, g.argmax);
  }
  if (pin) pin_nodes(g.gf, pinned, output_backend_);
  if (inputs_on_device_) place_inputs(g);
  return g;
}

}  // namespace rbees::model
