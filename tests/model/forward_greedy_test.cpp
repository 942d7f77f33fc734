// Greedy picks made by the model's graph (forward_greedy) against the argmax of the logits rows the
// same batch gives through forward().
#include <gtest/gtest.h>

#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

TEST(ForwardGreedy, PicksEachRowsGreatestLogitAndFillsTheCacheAsForwardDoes) {
  const auto& ref = Reference::get();
  static LoadedModel lm(kHfDir, exact_options(true));
  LlamaModel& m = *lm.model;
  const int V = m.n_vocab();
  KvCache by_logits = m.create_kv_cache(256, GGML_TYPE_F32);
  KvCache by_picks = m.create_kv_cache(256, GGML_TYPE_F32);
  by_logits.set_regions(2);
  by_picks.set_regions(2);

  // Two prompts in one batch, each wanting its last row; then decode steps fed by the picks.
  Batch b;
  std::vector<int32_t> next_pos;
  for (int s = 0; s < 2; ++s) {
    const auto prompt = ref.input_ids(s);
    for (size_t i = 0; i < prompt.size(); ++i) b.add(prompt[i], static_cast<int32_t>(i), s, i + 1 == prompt.size());
    next_pos.push_back(static_cast<int32_t>(prompt.size()));
  }
  for (int step = 0; step < 10; ++step) {
    const std::vector<float> logits = m.forward(b, by_logits);
    const std::span<const int32_t> picks = m.forward_greedy(b, by_picks);
    ASSERT_EQ(picks.size(), 2u) << "step " << step;
    Batch next;
    for (int s = 0; s < 2; ++s) {
      EXPECT_EQ(picks[s], argmax(logits.data() + static_cast<size_t>(s) * V, V)) << "row " << s << " step " << step;
      next.add(picks[s], next_pos[s]++, s, true);
    }
    b = next;
  }
  EXPECT_EQ(by_picks.used(), by_logits.used());
  EXPECT_EQ(by_picks.seq_cells(1), by_logits.seq_cells(1));
}

}  // namespace
}  // namespace rbees::model::testing
