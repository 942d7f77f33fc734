// The graph's node order where ggml's CUDA backend fuses nodes. It fuses only neighbours
// (ggml_cuda_can_fuse): RMS_NORM followed by the MUL by its weight, and the keys' ROPE, the VIEW that
// flattens it and the SET_ROWS that stores it in the cache (one kernel instead of three, and the
// keys never written to memory before the cache). An order change would cost GPU time and change no
// output, so it is checked here, on the graph the CPU builds from the same code.
#include <ggml.h>
#include <gtest/gtest.h>

#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

struct Fusible {
  int norm_mul = 0;        // RMS_NORM, then MUL of it
  int rope_store = 0;      // ROPE, VIEW of it, SET_ROWS of the view
  int norms = 0;           // every RMS_NORM
  int stores_of_rope = 0;  // every SET_ROWS whose rows are a view of a ROPE
};

// How many nodes of the graph read `t`.
int readers(const ggml_cgraph* gf, const ggml_tensor* t) {
  int n = 0;
  for (int i = 0; i < ggml_graph_n_nodes(const_cast<ggml_cgraph*>(gf)); ++i) {
    const ggml_tensor* node = ggml_graph_node(const_cast<ggml_cgraph*>(gf), i);
    for (const ggml_tensor* src : node->src) n += src == t ? 1 : 0;
  }
  return n;
}

Fusible count(const ggml_cgraph* graph) {
  auto* gf = const_cast<ggml_cgraph*>(graph);
  Fusible f;
  const int n = ggml_graph_n_nodes(gf);
  for (int i = 0; i < n; ++i) {
    const ggml_tensor* t = ggml_graph_node(gf, i);
    if (t->op == GGML_OP_RMS_NORM) {
      ++f.norms;
      const ggml_tensor* next = i + 1 < n ? ggml_graph_node(gf, i + 1) : nullptr;
      if (next != nullptr && next->op == GGML_OP_MUL && next->src[0] == t) ++f.norm_mul;
    }
    // ggml_set_rows(ctx, cache, rows, index) keeps the rows as src[0] and the index as src[1].
    if (t->op == GGML_OP_SET_ROWS && t->src[0]->op == GGML_OP_VIEW && t->src[0]->src[0]->op == GGML_OP_ROPE) {
      ++f.stores_of_rope;
      const ggml_tensor* view = t->src[0];
      const ggml_tensor* rope = view->src[0];
      // Neighbours, and nothing else reads the intermediates (ggml_can_fuse_subgraph's conditions);
      // the index in I64 and a flattening view (ggml_cuda_should_fuse_rope_set_rows').
      if (i >= 2 && ggml_graph_node(gf, i - 1) == view && ggml_graph_node(gf, i - 2) == rope &&
          readers(gf, rope) == 1 && readers(gf, view) == 1 && t->src[1]->type == GGML_TYPE_I64 &&
          ggml_is_contiguous(view) && view->ne[0] == rope->ne[0] * rope->ne[1]) {
        ++f.rope_store;
      }
    }
  }
  return f;
}

void expect_fusible(const LlamaModel& m, int n_layer, const char* what) {
  SCOPED_TRACE(what);
  ASSERT_NE(m.last_graph(), nullptr);
  const Fusible f = count(m.last_graph());
  EXPECT_EQ(f.norms, 2 * n_layer + 1);  // two a layer and the final norm
  EXPECT_EQ(f.norm_mul, f.norms);
  EXPECT_EQ(f.stores_of_rope, n_layer);  // the keys; the values are stored without RoPE
  EXPECT_EQ(f.rope_store, n_layer);
}

// Prompts of three sequences in one pass (runs over their regions), then decode steps (streams over
// their homes), with fused projections (Q, K and V views of one product) and without.
void check(bool fused_projections) {
  ModelOptions options;
  options.fused_projections = fused_projections;
  LoadedModel loaded(kF16Gguf, options);
  LlamaModel& m = *loaded.model;
  const int n_layer = loaded.source.config.n_layer;
  KvCache kv = m.create_kv_cache(1024, GGML_TYPE_F16);
  kv.set_regions(4);
  std::vector<int32_t> next_pos;
  const Batch p = staggered_prompts(3, m.n_vocab(), next_pos);
  m.forward(p, kv);
  expect_fusible(m, n_layer, "prompt pass");
  for (int step = 0; step < 2; ++step) {
    Batch d;
    for (int32_t s = 0; s < 3; ++s) d.add(5 + s, next_pos[static_cast<size_t>(s)]++, s, true);
    m.forward(d, kv);
    expect_fusible(m, n_layer, "decode step");
  }
}

TEST(GraphOrder, NormsMeetTheirWeightsAndKeysMeetTheCacheAsNeighbours) {
  check(true);
}

TEST(GraphOrder, SeparateProjectionsKeepTheSameNeighbours) {
  check(false);
}

}  // namespace
}  // namespace rbees::model::testing
