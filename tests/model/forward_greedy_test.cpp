// Greedy picks made by the model's graph (forward_greedy) against the argmax of the logits rows the
// same batch gives through forward(), with and without a mask row per logits row.
#include <gtest/gtest.h>

#include <ggml.h>
#include <gguf.h>

#include <algorithm>
#include <cstring>
#include <string>
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

// Passes run ahead (the engine's overlapped steps): on a GPU each graph computes asynchronously on
// the device's stream while the next is prepared, its inputs staged in pinned memory that alternates
// between passes; the picks must be those of the same passes one after another on the same device.
// Two caches of the same model: the passes one after another fill one, the passes run ahead the other.
struct AheadAndInTurn {
  static LlamaModel& model() {
    static LoadedModel lm(kHfDir, exact_options(true));
    return *lm.model;
  }
  LlamaModel& m = model();
  KvCache in_turn = regions(m.create_kv_cache(1024, GGML_TYPE_F32));
  KvCache ahead = regions(m.create_kv_cache(1024, GGML_TYPE_F32));
  static KvCache regions(KvCache kv) {
    kv.set_regions(4);
    return kv;
  }
};

TEST(ForwardGreedy, PassesRunAheadPickWhatPassesOneAfterAnotherPick) {
  AheadAndInTurn c;
  LlamaModel& m = c.m;
  KvCache& in_turn = c.in_turn;
  KvCache& ahead = c.ahead;
  constexpr int kSteps = 16;
  const auto want = greedy_steps(m, in_turn, kSteps, false);
  const auto got = greedy_steps(m, ahead, kSteps, true);
  ASSERT_EQ(got.size(), static_cast<size_t>(kSteps + 1));
  EXPECT_EQ(got, want);
  EXPECT_EQ(ahead.used(), in_turn.used());
}

// Passes run ahead with their logits rows brought back (the engine's overlapped steps with sampled
// rows, drawn on the host): the rows are those of the same passes one after another, each in the
// memory of its own pass while the next computes.
TEST(ForwardGreedy, PassesRunAheadBringBackTheLogitsOfPassesOneAfterAnother) {
  AheadAndInTurn c;
  LlamaModel& m = c.m;
  KvCache& in_turn = c.in_turn;
  KvCache& ahead = c.ahead;
  constexpr int kSteps = 8;
  std::vector<float> want_rows, got_rows;
  const auto want = greedy_steps(m, in_turn, kSteps, false, &want_rows);
  const auto got = greedy_steps(m, ahead, kSteps, true, &got_rows);
  EXPECT_EQ(got, want);
  ASSERT_EQ(got_rows.size(), static_cast<size_t>(3 * (kSteps + 1) * m.n_vocab()));
  ASSERT_EQ(got_rows.size(), want_rows.size());
  // The same graphs on the same device: the same values.
  size_t differ = 0;
  for (size_t i = 0; i < got_rows.size(); ++i) differ += got_rows[i] == want_rows[i] ? 0 : 1;
  EXPECT_EQ(differ, 0u);
  EXPECT_EQ(ahead.used(), in_turn.used());
}

// A row's mask closes tokens before the device's pick: the pick is the greatest allowed logit. Row 0
// allows every third token (its unmasked pick closed), row 1 is all open.
TEST(ForwardGreedy, MaskedRowsPickTheGreatestAllowedLogit) {
  const auto& ref = Reference::get();
  static LoadedModel lm(kHfDir, exact_options(true));
  LlamaModel& m = *lm.model;
  const int V = m.n_vocab();
  Batch b;
  for (int s = 0; s < 2; ++s) {
    const auto prompt = ref.input_ids(s);
    for (size_t i = 0; i < prompt.size(); ++i) b.add(prompt[i], static_cast<int32_t>(i), s, i + 1 == prompt.size());
  }
  KvCache kv_logits = m.create_kv_cache(256, GGML_TYPE_F32);
  KvCache kv_picks = m.create_kv_cache(256, GGML_TYPE_F32);
  KvCache kv_plain = m.create_kv_cache(256, GGML_TYPE_F32);
  for (KvCache* kv : {&kv_logits, &kv_picks, &kv_plain}) kv->set_regions(2);
  const std::vector<float> logits = m.forward(b, kv_logits);
  const int32_t plain0 = m.forward_greedy(b, kv_plain)[0];
  const std::span<uint64_t> masks = m.greedy_masks(2);
  const size_t words = m.greedy_mask_words();
  ASSERT_EQ(words, (static_cast<size_t>(V) + 63) / 64);
  ASSERT_GE(masks.size(), 2 * words);
  std::fill(masks.begin(), masks.end(), 0);
  std::fill(masks.begin() + static_cast<std::ptrdiff_t>(words), masks.begin() + static_cast<std::ptrdiff_t>(2 * words),
            ~uint64_t{0});
  int32_t want0 = -1;
  for (int t = 0; t < V; ++t) {
    const bool open = t % 3 == 1 && t != plain0;
    if (open) masks[static_cast<size_t>(t) / 64] |= uint64_t{1} << (t % 64);
    if (open && (want0 < 0 || logits[static_cast<size_t>(t)] > logits[static_cast<size_t>(want0)])) want0 = t;
  }
  const std::span<const int32_t> picks = m.forward_greedy(b, kv_picks, masks);
  ASSERT_EQ(picks.size(), 2u);
  EXPECT_NE(picks[0], plain0);
  EXPECT_EQ(picks[0], want0);
  EXPECT_EQ(picks[1], argmax(logits.data() + V, V));
  EXPECT_THROW(m.forward_greedy(b, kv_picks, masks.first(words)), std::invalid_argument);
}

// The F16 file with token `copy`'s embedding row (the output matrix too: the embeddings are tied)
// replaced by token `from`'s, so that their logits tie exactly wherever both are computed.
std::string gguf_with_equal_rows(int32_t from, int32_t copy) {
  ggml_context* data = nullptr;
  gguf_init_params params{false, &data};
  gguf_context* g = gguf_init_from_file(kF16Gguf.c_str(), params);
  EXPECT_NE(g, nullptr);
  ggml_tensor* emb = ggml_get_tensor(data, "token_embd.weight");
  EXPECT_NE(emb, nullptr);
  auto* rows = static_cast<char*>(emb->data);
  std::memcpy(rows + static_cast<size_t>(copy) * emb->nb[1], rows + static_cast<size_t>(from) * emb->nb[1], emb->nb[1]);
  // A new file of the same metadata and tensors (in the loaded file's order), their data in memory.
  gguf_context* out = gguf_init_empty();
  gguf_set_kv(out, g);
  for (int64_t t = 0; t < gguf_get_n_tensors(g); ++t)
    gguf_add_tensor(out, ggml_get_tensor(data, gguf_get_tensor_name(g, t)));
  const std::string path = ::testing::TempDir() + "tied-rows-" + std::to_string(from) + ".gguf";
  EXPECT_TRUE(gguf_write_to_file(out, path.c_str(), false));
  gguf_free(out);
  gguf_free(g);
  ggml_free(data);
  return path;
}

// Where two tokens' logits tie exactly, the graph's pick on the CPU is the host's: the first of
// them, as std::max_element and the samplers take it (ggml's CPU argmax alone would take the last).
// An engine takes a sequence's greedy tokens from either, step by step.
TEST(ForwardGreedy, ExactTiesArePickedAsTheHostPicksThem) {
  if (testing_on_gpu()) GTEST_SKIP() << "ties are broken by the host's rule on the CPU only";
  const auto& ref = Reference::get();
  const std::vector<int32_t> prompt = ref.input_ids(0);
  int32_t top = -1;
  int32_t n_vocab = 0;
  {
    LoadedModel plain(kF16Gguf, ModelOptions{});
    KvCache kv = plain.model->create_kv_cache(128);
    const std::vector<float> logits = plain.model->forward(prompt_batch(prompt), kv);
    n_vocab = plain.model->n_vocab();
    top = argmax(logits.data() + (prompt.size() - 1) * static_cast<size_t>(n_vocab), n_vocab);
  }
  const int32_t twin = top + 1 < n_vocab ? top + 1 : top - 1;
  const int32_t first = std::min(top, twin);
  LoadedModel lm(gguf_with_equal_rows(top, twin), ModelOptions{});
  LlamaModel& m = *lm.model;
  const auto V = static_cast<size_t>(m.n_vocab());
  Batch b;
  for (size_t i = 0; i < prompt.size(); ++i) b.add(prompt[i], static_cast<int32_t>(i), 0, i + 1 == prompt.size());
  KvCache kv_logits = m.create_kv_cache(128);
  KvCache kv_picks = m.create_kv_cache(128);
  KvCache kv_masked = m.create_kv_cache(128);
  const std::vector<float> logits = m.forward(b, kv_logits);
  ASSERT_EQ(logits[static_cast<size_t>(top)], logits[static_cast<size_t>(twin)]) << "no tie to break";
  ASSERT_EQ(argmax(logits.data(), static_cast<int>(V)), first) << "the twins are not the greatest";
  EXPECT_EQ(m.forward_greedy(b, kv_picks)[0], first);
  const std::span<uint64_t> masks = m.greedy_masks(1);
  std::fill(masks.begin(), masks.end(), ~uint64_t{0});
  EXPECT_EQ(m.forward_greedy(b, kv_masked, masks)[0], first);
}

}  // namespace
}  // namespace rbees::model::testing
