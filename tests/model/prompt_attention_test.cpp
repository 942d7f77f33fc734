// Batched prompt attention (ModelOptions::batch_prompt_attention): the prompt chunks of one pass
// attend in one 4-D flash attention over their gathered cells (RunBatch) and compute what one
// attention per chunk computes, first chunks and later ones, in home regions or not: both within
// the flash kernels' rounding of the exact attention.
#include <gtest/gtest.h>

#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

// Exact weights and ggml's flash kernel for every chunk on the CPU too (a short chunk would take
// ops::decode_attention_cpu), against the exact product without flash attention.
ModelOptions batched(bool on) {
  ModelOptions o = exact_options(true);
  o.cpu_attention = false;
  o.batch_prompt_attention = on;
  return o;
}

// Chunks of three sequences of different lengths (one past a 64-row query tile), twice: the second
// pass's chunks attend over the first's cells too.
std::vector<Batch> chunked_prompts(int n_vocab) {
  const int lengths[2][3] = {{11, 70, 5}, {9, 3, 40}};
  std::vector<Batch> passes(2);
  int pos[3] = {0, 0, 0};
  for (int p = 0; p < 2; ++p) {
    for (int32_t s = 0; s < 3; ++s) {
      for (int i = 0; i < lengths[p][s]; ++i) {
        passes[static_cast<size_t>(p)].add((17 + 31 * pos[s] + 101 * s) % n_vocab, pos[s], s, true);
        ++pos[s];
      }
    }
  }
  return passes;
}

void expect_same_as_per_sequence(int regions) {
  SCOPED_TRACE(regions > 0 ? "home regions" : "no regions");
  core::Device dev = test_device();
  const loader::ModelSource src = loader::load_model_source(kF16Gguf);
  LlamaModel on(src, dev, batched(true));
  LlamaModel off(src, dev, batched(false));
  LlamaModel exact(src, dev, exact_options(false));
  KvCache kv_on = on.create_kv_cache(512, GGML_TYPE_F32);
  KvCache kv_off = off.create_kv_cache(512, GGML_TYPE_F32);
  KvCache kv_exact = exact.create_kv_cache(512, GGML_TYPE_F32);
  if (regions > 0) {
    kv_on.set_regions(regions);
    kv_off.set_regions(regions);
  }
  size_t tokens = 0;
  for (const Batch& b : chunked_prompts(on.n_vocab())) {
    const std::vector<float> a = on.forward(b, kv_on);
    const std::vector<float> e = off.forward(b, kv_off);
    const std::vector<float> x = exact.forward(b, kv_exact);
    ASSERT_EQ(a.size(), e.size());
    // Both flash paths round K and V to F16 (ggml's kernels take F16), and ggml's CPU kernel for
    // longer query blocks also its probabilities: about 5e-4 from the exact product each, measured.
    EXPECT_LT(rel_l2(a, x), device_tolerance(1e-3));
    EXPECT_LT(rel_l2(e, x), device_tolerance(1e-3));
    EXPECT_LT(rel_l2(a, e), device_tolerance(1e-3));
    tokens += b.tokens.size();
  }
  EXPECT_EQ(on.timings().batched_run_tokens, tokens);
  EXPECT_EQ(off.timings().batched_run_tokens, 0u);
  // Then each sequence decodes on its own cells: the same greedy tokens either way.
  for (int32_t s = 0; s < 3; ++s) {
    const int32_t pos = static_cast<int32_t>(kv_on.seq_cells(s).size());
    int32_t t_on = 5 + s, t_off = 5 + s;
    for (int i = 0; i < 6; ++i) {
      Batch step_on, step_off;
      step_on.add(t_on, pos + i, s, true);
      step_off.add(t_off, pos + i, s, true);
      t_on = argmax(on.forward(step_on, kv_on).data(), on.n_vocab());
      t_off = argmax(off.forward(step_off, kv_off).data(), off.n_vocab());
      EXPECT_EQ(t_on, t_off) << "sequence " << s << " step " << i;
    }
  }
}

TEST(PromptAttention, BatchedChunksComputeWhatPerSequenceAttentionComputes) {
  expect_same_as_per_sequence(0);
}

TEST(PromptAttention, BatchedChunksInHomeRegionsComputeWhatPerSequenceAttentionComputes) {
  expect_same_as_per_sequence(4);
}

TEST(PromptAttention, OneChunkAttendsOnItsOwn) {
  core::Device dev = test_device();
  const loader::ModelSource src = loader::load_model_source(kF16Gguf);
  LlamaModel m(src, dev, batched(true));
  KvCache kv = m.create_kv_cache(256);
  Batch b;
  for (int32_t i = 0; i < 20; ++i) b.add(40 + i, i, 0, true);
  m.forward(b, kv);
  EXPECT_EQ(m.timings().batched_run_tokens, 0u);
}

}  // namespace
}  // namespace rbees::model::testing
