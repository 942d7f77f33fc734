// The KV cache: cell bookkeeping, incremental decoding against one full pass, and several
// sequences in one batch against each alone.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

// The masks' F16 values as floats (exact for 0 and -inf).
std::vector<float> as_floats(const std::vector<MaskValue>& mask) {
  std::vector<float> out;
  for (MaskValue v : mask) out.push_back(ggml_fp16_to_fp32(v));
  return out;
}

// The default model in F32, loaded once for this file.
LlamaModel& exact_model() {
  static LoadedModel lm(kHfDir, exact_options());
  return *lm.model;
}

std::vector<float> row(const std::vector<float>& logits, size_t r, int n_vocab) {
  return {logits.begin() + r * n_vocab, logits.begin() + (r + 1) * n_vocab};
}

TEST(KvCacheCells, PlaceTagsCellsAndMaskFollowsSequencesAndPositions) {
  core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, 8, GGML_TYPE_F32);
  EXPECT_EQ(kv.size(), 8);
  EXPECT_EQ(kv.used(), 0);
  // Sequence 0 at positions 0..2, sequence 1 at 0..1, interleaved in one batch.
  const auto cells = kv.place({0, 1, 0, 1, 0}, {0, 0, 1, 1, 2});
  EXPECT_EQ(cells, (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(kv.used(), 5);
  EXPECT_EQ(kv.seq_cells(0), (std::vector<int32_t>{0, 2, 4}));
  EXPECT_EQ(kv.seq_pos_max(1), 1);

  std::vector<MaskValue> m(8 * 2);
  kv.fill_mask(m.data(), 8, {0, 1}, {1, 1});
  const std::vector<float> mask = as_floats(m);
  const float inf = -std::numeric_limits<float>::infinity();
  // Token of seq 0 at pos 1 sees cells 0 and 2; token of seq 1 at pos 1 sees cells 1 and 3.
  EXPECT_EQ(mask, (std::vector<float>{0, inf, 0, inf, inf, inf, inf, inf, inf, 0, inf, 0, inf, inf, inf, inf}));

  // A position already stored is refused and changes nothing.
  EXPECT_THROW(kv.place({0}, {2}), std::invalid_argument);
  EXPECT_EQ(kv.used(), 5);
  // Too many tokens for the free cells.
  EXPECT_THROW(kv.place({2, 2, 2, 2}, {0, 1, 2, 3}), std::runtime_error);
  EXPECT_EQ(kv.used(), 5);

  // Removing seq 0 from position 1 frees cells 2 and 4; first fit reuses cell 2.
  kv.seq_rm(0, 1, -1);
  EXPECT_EQ(kv.used(), 3);
  EXPECT_EQ(kv.seq_pos_max(0), 0);
  EXPECT_EQ(kv.place({0}, {1}), (std::vector<int32_t>{2}));
}

TEST(KvCacheCells, SeqCpSharesCellsUntilEveryOwnerRemovesThem) {
  core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, 8, GGML_TYPE_F16);
  kv.place({0, 0, 0}, {0, 1, 2});
  kv.seq_cp(0, 5, 0, 2);  // share positions 0 and 1
  EXPECT_EQ(kv.seq_cells(5), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(kv.used(), 3);
  kv.seq_rm(0);
  EXPECT_EQ(kv.used(), 2);  // cells 0, 1 live on for sequence 5
  EXPECT_EQ(kv.sequences(), (std::vector<int32_t>{5}));
  kv.seq_rm(-1);
  EXPECT_EQ(kv.used(), 0);
}

// The prefix cache's hold keeps cells in use with no sequence, and sequences share held cells at
// the positions they hold; a cell is free once its last hold and its last sequence are gone.
TEST(KvCacheCells, HeldCellsOutliveTheirSequenceAndAreSharedAtTheirPositions) {
  core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, 8, GGML_TYPE_F16);
  kv.place({0, 0, 0, 0}, {0, 1, 2, 3});
  EXPECT_EQ(kv.seq_cells(0, 1, 3), (std::vector<int32_t>{1, 2}));
  const std::vector<int32_t> held = kv.seq_cells(0, 0, 2);
  kv.hold(held);
  kv.hold(held);  // holds count: two blocks may hold the same cells
  kv.seq_rm(0);
  EXPECT_EQ(kv.used(), 2);
  EXPECT_TRUE(kv.sequences().empty());

  kv.share(held, 3, 0);
  EXPECT_EQ(kv.seq_cells(3), held);
  EXPECT_EQ(kv.seq_pos_max(3), 1);
  // A cell holds one position: sharing it at another, or a position the sequence has, is refused
  // and changes nothing.
  EXPECT_THROW(kv.share(held, 4, 1), std::invalid_argument);
  EXPECT_THROW(kv.share(held, 3, 0), std::invalid_argument);
  EXPECT_EQ(kv.seq_cells(4), std::vector<int32_t>{});
  // New tokens of the sequence go to free cells, not to held ones.
  EXPECT_EQ(kv.place({3}, {2}), (std::vector<int32_t>{2}));

  kv.unhold(held);
  kv.unhold(held);
  EXPECT_EQ(kv.used(), 3);  // sequence 3 still maps to them
  kv.seq_rm(3);
  EXPECT_EQ(kv.used(), 0);
  EXPECT_THROW(kv.hold(held), std::invalid_argument);  // free cells cannot be held
}

TEST(KvCacheForward, IncrementalDecodingMatchesOneFullPass) {
  const auto& ref = Reference::get();
  LlamaModel& m = exact_model();
  const int V = m.n_vocab();
  const auto ids = ref.input_ids(4);  // the longest prompt, 30 tokens
  KvCache full_kv = m.create_kv_cache(64, GGML_TYPE_F32);
  const auto full = m.forward(prompt_batch(ids), full_kv);

  KvCache kv = m.create_kv_cache(64, GGML_TYPE_F32);
  const size_t prefill = 9;
  Batch b;
  for (size_t i = 0; i < prefill; ++i) b.add(ids[i], static_cast<int32_t>(i), 0, i + 1 == prefill);
  auto logits = m.forward(b, kv);
  for (size_t i = prefill; i < ids.size(); ++i) {
    Batch step;
    step.add(ids[i], static_cast<int32_t>(i), 0, true);
    logits = m.forward(step, kv);
    EXPECT_LT(rel_l2(logits, row(full, i, V)), device_tolerance(1e-5)) << "position " << i;
  }
  EXPECT_EQ(kv.used(), static_cast<int>(ids.size()));
}

// Decode steps of one shape run one graph again with new inputs; a pass on another cache (even of
// the same size) must build its own graph, or it would write into the first cache.
TEST(KvCacheForward, DecodeStepsReuseOneGraphAndAnotherCacheGetsItsOwn) {
  const auto& ref = Reference::get();
  LlamaModel& m = exact_model();
  const int V = m.n_vocab();
  const auto ids = ref.input_ids(4);
  KvCache full_kv = m.create_kv_cache(64, GGML_TYPE_F32);
  const auto full = m.forward(prompt_batch(ids), full_kv);

  KvCache a = m.create_kv_cache(64, GGML_TYPE_F32);
  KvCache b = m.create_kv_cache(64, GGML_TYPE_F32);
  m.forward(prompt_batch({ids.begin(), ids.begin() + 5}), a);
  m.forward(prompt_batch({ids.begin(), ids.begin() + 5}), b);
  m.reset_timings();
  for (size_t i = 5; i < 12; ++i) {
    Batch step;
    step.add(ids[i], static_cast<int32_t>(i), 0, true);
    EXPECT_LT(rel_l2(m.forward(step, a), row(full, i, V)), device_tolerance(1e-5)) << "position " << i;
  }
  EXPECT_EQ(m.timings().graphs, 7u);
  EXPECT_EQ(m.timings().graphs_built, 1u);
  // Same shape, other cache: rebuilt, and cache a is untouched by b's step.
  Batch step;
  step.add(ids[5], 5, 0, true);
  EXPECT_LT(rel_l2(m.forward(step, b), row(full, 5, V)), device_tolerance(1e-5));
  EXPECT_EQ(m.timings().graphs_built, 2u);
  EXPECT_EQ(a.used(), 12);
  EXPECT_EQ(b.used(), 6);
  step = {};
  step.add(ids[12], 12, 0, true);
  EXPECT_LT(rel_l2(m.forward(step, a), row(full, 12, V)), device_tolerance(1e-5));
}

TEST(KvCacheForward, LongBatchSplitIntoSeveralGraphsMatchesOnePass) {
  const auto& ref = Reference::get();
  ModelOptions small = exact_options();
  small.max_graph_tokens = 8;
  LoadedModel lm(kHfDir, std::move(small));
  const auto ids = ref.input_ids(4);
  KvCache kv = lm.model->create_kv_cache(64, GGML_TYPE_F32);
  const auto logits = lm.model->forward(prompt_batch(ids), kv);
  EXPECT_LT(rel_l2(logits, ref.at("case4.logits").f32), device_tolerance(1e-5));
}

TEST(KvCacheForward, TwoSequencesInOneBatchMatchEachAlone) {
  const auto& ref = Reference::get();
  LlamaModel& m = exact_model();
  const int V = m.n_vocab();
  const int n_new = 24;
  const int cases[2] = {0, 3};

  // Each alone: greedy tokens and the logits of every step.
  std::vector<int32_t> alone_tokens[2];
  std::vector<std::vector<float>> alone_logits[2];
  for (int s = 0; s < 2; ++s) {
    KvCache kv = m.create_kv_cache(128, GGML_TYPE_F32);
    const auto prompt = ref.input_ids(cases[s]);
    auto logits = m.forward(prompt_batch(prompt), kv);
    std::vector<float> last = row(logits, prompt.size() - 1, V);
    for (int i = 0; i < n_new; ++i) {
      alone_logits[s].push_back(last);
      const int32_t next = argmax(last.data(), V);
      alone_tokens[s].push_back(next);
      Batch step;
      step.add(next, static_cast<int32_t>(prompt.size()) + i, 0, true);
      last = m.forward(step, kv);
    }
  }

  // Together: both prompts in one batch (sequences 3 and 7), then one token of each per step.
  KvCache kv = m.create_kv_cache(128, GGML_TYPE_F32);
  const int32_t seq[2] = {3, 7};
  std::vector<int32_t> prompts[2] = {ref.input_ids(cases[0]), ref.input_ids(cases[1])};
  Batch b;
  for (int s = 0; s < 2; ++s) {
    for (size_t i = 0; i < prompts[s].size(); ++i) {
      b.add(prompts[s][i], static_cast<int32_t>(i), seq[s], i + 1 == prompts[s].size());
    }
  }
  auto logits = m.forward(b, kv);
  std::vector<int32_t> together[2];
  for (int i = 0; i < n_new; ++i) {
    Batch step;
    for (int s = 0; s < 2; ++s) {
      const auto r = row(logits, s, V);
      EXPECT_LT(rel_l2(r, alone_logits[s][i]), device_tolerance(1e-4)) << "sequence " << s << " step " << i;
      together[s].push_back(argmax(r.data(), V));
      step.add(together[s].back(), static_cast<int32_t>(prompts[s].size()) + i, seq[s], true);
    }
    logits = m.forward(step, kv);
  }
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(together[s], alone_tokens[s]) << "sequence " << s;
    const auto want = ref.greedy_ids(cases[s]);
    EXPECT_EQ(together[s], std::vector<int32_t>(want.begin(), want.begin() + n_new)) << "sequence " << s;
  }
}

TEST(KvCacheForward, ForkedSequenceSharesPrefixCellsAndContinuesLikeAFreshOne) {
  const auto& ref = Reference::get();
  LlamaModel& m = exact_model();
  const int V = m.n_vocab();
  const auto prompt = ref.input_ids(1);
  const auto cont = ref.greedy_ids(1);

  KvCache kv = m.create_kv_cache(64, GGML_TYPE_F32);
  m.forward(prompt_batch(prompt), kv);
  kv.seq_cp(0, 1);
  const int used_before = kv.used();
  Batch step;
  step.add(cont[0], static_cast<int32_t>(prompt.size()), 1, true);
  const auto forked = m.forward(step, kv);
  EXPECT_EQ(kv.used(), used_before + 1);  // the prefix is shared, not copied

  std::vector<int32_t> ids = prompt;
  ids.push_back(cont[0]);
  KvCache fresh = m.create_kv_cache(64, GGML_TYPE_F32);
  const auto full = m.forward(prompt_batch(ids), fresh);
  EXPECT_LT(rel_l2(forked, row(full, ids.size() - 1, V)), device_tolerance(1e-5));
  EXPECT_EQ(argmax(forked.data(), V), cont[1]);

  // Rolling sequence 1 back and feeding the token again gives the same logits.
  kv.seq_rm(1, static_cast<int32_t>(prompt.size()), -1);
  EXPECT_EQ(kv.used(), used_before);
  EXPECT_LT(rel_l2(m.forward(step, kv), forked), 1e-6);
}

TEST(KvCacheForward, RejectsBadBatchesWithoutTouchingTheCache) {
  LlamaModel& m = exact_model();
  KvCache kv = m.create_kv_cache(4, GGML_TYPE_F32);
  Batch too_long = prompt_batch({0, 1, 2, 3, 4});
  EXPECT_THROW(m.forward(too_long, kv), std::runtime_error);
  Batch bad_token = prompt_batch({0, m.n_vocab()});
  EXPECT_THROW(m.forward(bad_token, kv), std::invalid_argument);
  EXPECT_EQ(kv.used(), 0);
}

}  // namespace
}  // namespace rbees::model::testing

namespace rbees::model::testing {
namespace {

TEST(KvCacheRegions, SequencesPlaceInTheirHomeRegionAndOverflowElsewhere) {
  core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, 16, GGML_TYPE_F32);
  kv.set_regions(4);  // regions of 4 cells: [0,4) [4,8) [8,12) [12,16)
  EXPECT_EQ(kv.region_size(), 4);
  EXPECT_EQ(kv.place({2, 0, 2}, {0, 0, 1}), (std::vector<int32_t>{8, 0, 9}));
  EXPECT_EQ(kv.home_extent(2), 2);
  EXPECT_EQ(kv.home_extent(0), 1);
  EXPECT_EQ(kv.home_extent(1), 0);
  EXPECT_EQ(kv.region_free(2), 2);
  // Sequence 1 holds six tokens: four fit at home, two go to the first free cells elsewhere.
  EXPECT_EQ(kv.place({1, 1, 1, 1, 1, 1}, {0, 1, 2, 3, 4, 5}), (std::vector<int32_t>{4, 5, 6, 7, 1, 2}));
  EXPECT_EQ(kv.home_extent(1), -1);
  EXPECT_EQ(kv.home_extent(7), -1);  // no home region

  // Stream r reads region r; stream 1 is a placeholder, closed (nothing reads its output).
  const int window = 4;
  std::vector<MaskValue> mask(window * 3);
  kv.fill_region_mask(mask.data(), window, std::vector<int32_t>{0, -1, 2}, std::vector<int32_t>{0, 0, 0});
  const float inf = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(as_floats(mask), (std::vector<float>{0, inf, inf, inf, inf, inf, inf, inf, 0, inf, inf, inf}));
  kv.fill_region_mask(mask.data(), window, std::vector<int32_t>{0, -1, 2}, std::vector<int32_t>{0, 0, 1});
  EXPECT_EQ(as_floats(mask)[8 + 1], 0.0f);
  // Windows are multiples of 256 when every stream's fits the storage (cells plus 256 spare rows).
  EXPECT_EQ(kv.region_window(3, 1), 256);
  EXPECT_EQ(kv.region_window(3, 4), 4);
}

// A prompt chunk's mask covers its sequence's home region only: row t lets the token at positions[t]
// read its own sequence's cells up to its position, at their offsets in the region.
TEST(KvCacheRegions, RunMaskCoversTheHomeRegionCausally) {
  core::Device cpu(core::find_device("cpu"), 1);
  KvCache kv(cpu, 1, 4, 4, 16, GGML_TYPE_F32);
  kv.set_regions(4);
  EXPECT_EQ(kv.place({3, 2, 2, 2}, {0, 0, 1, 2}), (std::vector<int32_t>{12, 8, 9, 10}));
  // 16 cells plus 256 spare rows: a 256-cell window fits from region 2's start.
  EXPECT_EQ(kv.run_window(2, kv.home_extent(2)), 256);
  const int window = 4;
  std::vector<MaskValue> mask(window * 2);
  const int32_t positions[2] = {1, 2};
  kv.fill_run_mask(mask.data(), window, 2, positions, 2);
  const float inf = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(as_floats(mask), (std::vector<float>{0, 0, inf, inf, 0, 0, 0, inf}));
}

// Batched decode steps of several sequences, each in its own home region, attend per region (with
// flash attention) and give what each sequence gives alone: in and out of slot order, with a region
// left empty in between.
TEST(KvCacheForward, SequencesDecodingInTheirHomeRegionsMatchEachAlone) {
  const auto& ref = Reference::get();
  static LoadedModel lm(kHfDir, invariant_options());
  LlamaModel& m = *lm.model;
  ASSERT_TRUE(m.attends_by_region());
  const int V = m.n_vocab();
  const int n_new = 12;
  const int cases[3] = {0, 1, 3};
  const int32_t seq[3] = {3, 0, 2};  // batch order differs from slot order; slot 1 stays empty

  std::vector<std::vector<float>> alone[3];
  for (int s = 0; s < 3; ++s) {
    KvCache kv = m.create_kv_cache(128, GGML_TYPE_F32);
    const auto prompt = ref.input_ids(cases[s]);
    std::vector<float> last = row(m.forward(prompt_batch(prompt), kv), prompt.size() - 1, V);
    for (int i = 0; i < n_new; ++i) {
      alone[s].push_back(last);
      Batch step;
      step.add(argmax(last.data(), V), static_cast<int32_t>(prompt.size()) + i, 0, true);
      last = m.forward(step, kv);
    }
  }

  KvCache kv = m.create_kv_cache(4 * 64, GGML_TYPE_F32);
  kv.set_regions(4);
  std::vector<int32_t> prompts[3];
  Batch b;
  for (int s = 0; s < 3; ++s) {
    prompts[s] = ref.input_ids(cases[s]);
    ASSERT_LT(prompts[s].size() + n_new, 64u);
    for (size_t i = 0; i < prompts[s].size(); ++i) {
      b.add(prompts[s][i], static_cast<int32_t>(i), seq[s], i + 1 == prompts[s].size());
    }
  }
  auto logits = m.forward(b, kv);
  for (int i = 0; i < n_new; ++i) {
    Batch step;
    for (int s = 0; s < 3; ++s) {
      const auto r = row(logits, s, V);
      EXPECT_LT(rel_l2(r, alone[s][i]), device_tolerance(1e-4)) << "sequence " << seq[s] << " step " << i;
      // Batch-invariant kernels: the very same floats.
      if (!testing_on_gpu()) EXPECT_EQ(r, alone[s][i]) << "sequence " << seq[s] << " step " << i;
      step.add(argmax(r.data(), V), static_cast<int32_t>(prompts[s].size()) + i, seq[s], true);
    }
    logits = m.forward(step, kv);
  }
  for (int s = 0; s < 3; ++s) EXPECT_GT(kv.home_extent(seq[s]), 0) << "sequence " << seq[s] << " left its region";
}

}  // namespace
}  // namespace rbees::model::testing

namespace rbees::model::testing {
namespace {

// 80 sequences' prompts in one batch: more attention runs than one graph holds (kMaxRuns). Each
// sequence's last logits are its own alone: the same floats in batch-invariant mode (which splits
// the batch into graphs); otherwise (runs past the limit share the whole-span pass) within 1e-2:
// F16 weights and cache through kernels chosen by batch shape (tinyBLAS or dot products, tiled or
// one-query flash attention) measure about 4e-3 here.
void expect_many_prompts_match_alone(const ModelOptions& options, bool exact) {
  const auto& ref = Reference::get();
  LoadedModel lm(kHfDir, options);
  LlamaModel& m = *lm.model;
  const int V = m.n_vocab();
  constexpr int kSeqs = 80;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::vector<float>> alone;
  for (int c = 0; c < 5; ++c) {
    const auto ids = ref.input_ids(c);
    const size_t n = std::min(ids.size(), static_cast<size_t>(3 + c));
    prompts.emplace_back(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n));
    KvCache kv = m.create_kv_cache(64, GGML_TYPE_F16);
    alone.push_back(row(m.forward(prompt_batch(prompts.back()), kv), prompts.back().size() - 1, V));
  }
  KvCache kv = m.create_kv_cache(kSeqs * 16, GGML_TYPE_F16);
  kv.set_regions(kSeqs);
  Batch b;
  for (int s = 0; s < kSeqs; ++s) {
    const auto& p = prompts[s % 5];
    for (size_t i = 0; i < p.size(); ++i) b.add(p[i], static_cast<int32_t>(i), s, i + 1 == p.size());
  }
  const auto logits = m.forward(b, kv);
  ASSERT_EQ(logits.size(), static_cast<size_t>(kSeqs) * V);
  for (int s = 0; s < kSeqs; ++s) {
    const auto r = row(logits, s, V);
    if (exact) {
      EXPECT_EQ(r, alone[s % 5]) << "sequence " << s;
    } else {
      EXPECT_LT(rel_l2(r, alone[s % 5]), device_tolerance(1e-2)) << "sequence " << s;
    }
  }
}

TEST(KvCacheForward, MorePromptChunksThanOneGraphHoldsMatchEachAlone) {
  ModelOptions flash;
  flash.flash_attention = true;
  expect_many_prompts_match_alone(flash, false);
  if (!testing_on_gpu()) {
    flash.batch_invariant = true;
    expect_many_prompts_match_alone(flash, true);
  }
}

}  // namespace
}  // namespace rbees::model::testing
