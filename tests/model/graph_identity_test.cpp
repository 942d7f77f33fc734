// GraphIdentity: a graph's first node sits at one address per step width, which is how ggml's CUDA
// backend tells its CUDA graphs apart, and at another address for any other width.
#include "model/graph_identity.hpp"

#include <ggml.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

const void* first_tensor(GraphIdentity& id, uint64_t width) {
  ggml_context* ctx = id.begin(width);
  return ggml_new_tensor_1d(ctx, GGML_TYPE_F32, 8);
}

TEST(GraphIdentity, OneAddressPerWidthAndAnotherForEachOtherWidth) {
  GraphIdentity id(4);
  const void* a = first_tensor(id, 3);
  const void* b = first_tensor(id, 2);
  EXPECT_NE(a, b);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(first_tensor(id, 3), a) << "round " << round;
    EXPECT_EQ(first_tensor(id, 2), b) << "round " << round;
  }
  const void* c = first_tensor(id, uint64_t{3} << 32 | 1);
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
  EXPECT_EQ(id.widths(), 3u);
}

TEST(GraphIdentity, MemoryOfWidthsLeftIdleIsGivenBack) {
  GraphIdentity kept(4);
  GraphIdentity idle(4, std::chrono::steady_clock::duration::zero());
  for (uint64_t w : {1, 2, 3, 2}) {
    first_tensor(kept, w);
    first_tensor(idle, w);
  }
  EXPECT_EQ(kept.widths(), 3u);
  EXPECT_EQ(idle.widths(), 1u);  // only the width in use
}

// Through the model: decode steps of 3 and 2 tokens in turn (sequences stopping and resuming) each
// rebuild the graph, and each width's graphs open at the address that width had before.
TEST(GraphIdentity, ModelGraphsOfOneWidthOpenAtOneAddress) {
  const auto& ref = Reference::get();
  LoadedModel loaded(kHfDir, exact_options(true));
  LlamaModel& m = *loaded.model;
  KvCache kv = m.create_kv_cache(256, GGML_TYPE_F32);
  kv.set_regions(4);
  std::vector<int32_t> last(3), next_pos(3);
  std::set<const void*> prompt_nodes;
  for (int s = 0; s < 3; ++s) {
    const auto prompt = ref.input_ids(s % ref.n_cases());
    Batch p;
    for (size_t i = 0; i < prompt.size(); ++i) p.add(prompt[i], static_cast<int32_t>(i), s, i + 1 == prompt.size());
    const std::vector<float> logits = m.forward(p, kv);
    last[s] = argmax(logits.data(), m.n_vocab());
    next_pos[s] = static_cast<int32_t>(prompt.size());
    prompt_nodes.insert(m.graph_first_node());
  }
  const uint64_t built = m.timings().graphs_built;
  std::vector<const void*> three, two;
  for (int step = 0; step < 6; ++step) {
    const std::vector<int32_t> live = step % 2 == 0 ? std::vector<int32_t>{0, 1, 2} : std::vector<int32_t>{0, 2};
    Batch d;
    for (int32_t s : live) d.add(last[s], next_pos[s]++, s, true);
    const std::vector<float> logits = m.forward(d, kv);
    for (size_t r = 0; r < live.size(); ++r) last[live[r]] = argmax(logits.data() + r * m.n_vocab(), m.n_vocab());
    (live.size() == 3 ? three : two).push_back(m.graph_first_node());
  }
  EXPECT_EQ(m.timings().graphs_built - built, 6u);  // a new graph every step
  ASSERT_NE(three[0], nullptr);
  for (const void* p : three) EXPECT_EQ(p, three[0]);
  for (const void* p : two) EXPECT_EQ(p, two[0]);
  EXPECT_NE(three[0], two[0]);
  for (const void* p : prompt_nodes) {
    EXPECT_NE(p, three[0]);
    EXPECT_NE(p, two[0]);
  }
}

}  // namespace
}  // namespace rbees::model::testing
