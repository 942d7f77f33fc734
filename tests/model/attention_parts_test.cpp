// How the attention's parts (stream groups, gathered tokens, one run per prompt chunk) become the one
// tensor the output projection reads: each part written into its own rows of one destination, once.
// A chain of concats computes the same values but copies every row before a part again at each
// part, so a regression here costs time, not output, and only this test sees it.
#include <ggml.h>
#include <gtest/gtest.h>

#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

struct Parts {
  int concats = 0;
  int sets = 0;
  int joins = 0;         // destinations written by sets
  bool disjoint = true;  // each destination's sets cover it exactly, in order, row by row
};

Parts count(const ggml_cgraph* graph) {
  auto* gf = const_cast<ggml_cgraph*>(graph);
  Parts p;
  const ggml_tensor* dest = nullptr;
  size_t next = 0;
  auto close = [&] {
    if (dest != nullptr && next != ggml_nbytes(dest)) p.disjoint = false;
  };
  for (int i = 0; i < ggml_graph_n_nodes(gf); ++i) {
    const ggml_tensor* t = ggml_graph_node(gf, i);
    p.concats += t->op == GGML_OP_CONCAT ? 1 : 0;
    if (t->op != GGML_OP_SET) continue;
    ++p.sets;
    // ggml_set's op params: nb1, nb2, nb3, offset, inplace.
    const auto* params = static_cast<const int32_t*>(static_cast<const void*>(t->op_params));
    const bool starts = t->src[0]->op == GGML_OP_NONE;
    if (starts) {
      close();
      dest = t->src[0];
      next = 0;
      ++p.joins;
    }
    const ggml_tensor* part = t->src[1];
    if (params[4] != 1 || static_cast<size_t>(params[3]) != next || part->ne[0] != dest->ne[0] ||
        !ggml_is_contiguous(part)) {
      p.disjoint = false;
    }
    next += ggml_nbytes(part);
  }
  close();
  return p;
}

TEST(AttentionParts, EachPromptRunIsWrittenOnceIntoOneTensor) {
  ModelOptions options;
  options.flash_attention = true;  // runs and streams are flash attention's paths
  LoadedModel loaded(kF16Gguf, options);
  LlamaModel& m = *loaded.model;
  const int n_layer = loaded.source.config.n_layer;
  KvCache kv = m.create_kv_cache(1024, GGML_TYPE_F16);
  kv.set_regions(4);
  // Three prompts in one pass: three runs a layer.
  std::vector<int32_t> next_pos;
  const Batch p = staggered_prompts(3, m.n_vocab(), next_pos);
  m.forward(p, kv);
  ASSERT_NE(m.last_graph(), nullptr);
  Parts got = count(m.last_graph());
  EXPECT_EQ(got.concats, 0);
  EXPECT_EQ(got.joins, n_layer);
  EXPECT_EQ(got.sets, 3 * n_layer);
  EXPECT_TRUE(got.disjoint);

  // Decode tokens of the three with a fourth sequence's prompt: the streams and the run, two parts.
  Batch d;
  for (int32_t s = 0; s < 3; ++s) d.add(5 + s, next_pos[static_cast<size_t>(s)]++, s, true);
  for (int32_t i = 0; i < 20; ++i) d.add(3 + i, i, 3, i == 19);
  m.forward(d, kv);
  got = count(m.last_graph());
  EXPECT_EQ(got.concats, 0);
  EXPECT_EQ(got.joins, n_layer);
  EXPECT_EQ(got.sets, 2 * n_layer);
  EXPECT_TRUE(got.disjoint);

  // Decode tokens alone attend as one batch of streams: nothing to join.
  Batch e;
  for (int32_t s = 0; s < 4; ++s) e.add(9 + s, s < 3 ? next_pos[static_cast<size_t>(s)] : 20, s, true);
  m.forward(e, kv);
  got = count(m.last_graph());
  EXPECT_EQ(got.concats, 0);
  EXPECT_EQ(got.sets, 0);
}

}  // namespace
}  // namespace rbees::model::testing
