// Prompt runs attending as two streams of half the heads each (ModelOptions::split_run_heads)
// against the same runs as one stream: the same logits for chunks over home regions and over
// gathered cells, with grouped-query heads split consistently (the embedded model has 8 query
// heads over 4 key-value heads).
#include <gtest/gtest.h>

#include <vector>

#include "model/reference.hpp"
#include "model/war_and_peace.hpp"

namespace rbees::model::testing {
namespace {

ModelOptions options(bool split, bool cpu_attention) {
  ModelOptions o = exact_options(true);
  o.cpu_attention = cpu_attention;
  o.split_run_heads = split;
  return o;
}

// Three sequences' prompts in two chunks each, all in one pass per chunk: regions of 256 cells, so
// sequence 2 (300 tokens) outgrows its home in the second chunk and attends over gathered cells.
std::vector<std::vector<float>> run_chunks(LlamaModel& m) {
  KvCache kv = m.create_kv_cache(1024, GGML_TYPE_F16);
  kv.set_regions(4);
  const int lengths[3][2] = {{37, 90}, {130, 61}, {200, 100}};
  std::vector<std::vector<int32_t>> ids;
  for (int s = 0; s < 3; ++s) ids.push_back(war_and_peace_ids(20000 + 9000 * s, lengths[s][0] + lengths[s][1]));
  std::vector<std::vector<float>> out;
  for (int chunk = 0; chunk < 2; ++chunk) {
    Batch b;
    for (int s = 0; s < 3; ++s) {
      const int from = chunk == 0 ? 0 : lengths[s][0];
      for (int i = from; i < from + lengths[s][chunk]; ++i) b.add(ids[s][i], i, s, true);
    }
    out.push_back(m.forward(b, kv));
  }
  EXPECT_LT(kv.home_extent(2), 0) << "sequence 2 should have outgrown its region";
  return out;
}

TEST(SplitRunHeads, PromptChunksAttendAlikeAsTwoHalfHeadStreams) {
  if (!have_war_and_peace()) GTEST_SKIP() << "needs " << kWarAndPeace;
  // ggml's flash kernel for every run on both sides, so that only the split differs.
  static LoadedModel whole(kHfDir, options(false, false));
  static LoadedModel split(kHfDir, options(true, false));
  const auto a = run_chunks(*whole.model);
  const auto b = run_chunks(*split.model);
  ASSERT_EQ(a.size(), b.size());
  for (size_t c = 0; c < a.size(); ++c) {
    ASSERT_EQ(a[c].size(), b[c].size());
    // Each (query, head) row sums the same cells in the same order either way.
    if (testing_on_gpu()) {
      EXPECT_LT(rel_l2(b[c], a[c]), 1e-5) << "chunk " << c;
    } else {
      EXPECT_EQ(b[c], a[c]) << "chunk " << c;
    }
  }
}

TEST(SplitRunHeads, SplitRunsMatchTheCpuAttentionPath) {
  if (!have_war_and_peace()) GTEST_SKIP() << "needs " << kWarAndPeace;
  // The default CPU setup (short runs through ops::decode_attention_cpu, in F32) against split runs
  // through ggml's kernel, which rounds the queries to F16 for an F16 cache: the same picks, logits
  // within that rounding.
  static LoadedModel plain(kHfDir, options(false, true));
  static LoadedModel split(kHfDir, options(true, true));
  const auto a = run_chunks(*plain.model);
  const auto b = run_chunks(*split.model);
  const int V = plain.model->n_vocab();
  for (size_t c = 0; c < a.size(); ++c) {
    ASSERT_EQ(a[c].size(), b[c].size());
    EXPECT_LT(rel_l2(b[c], a[c]), 2e-3) << "chunk " << c;
    size_t same = 0;
    const size_t rows = a[c].size() / V;
    for (size_t r = 0; r < rows; ++r) same += argmax(a[c].data() + r * V, V) == argmax(b[c].data() + r * V, V);
    EXPECT_EQ(same, rows) << "chunk " << c;
  }
}

}  // namespace
}  // namespace rbees::model::testing
