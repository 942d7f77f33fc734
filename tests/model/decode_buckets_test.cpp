// Decode steps padded to bucketed sizes (ModelOptions::pad_decode_steps) against the same steps run
// at their exact size: the same logits rows and picks, the same cells, and one graph for steps of
// nearby sizes where the exact sizes need one each.
#include <gtest/gtest.h>

#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

ModelOptions bucketed_options() {
  ModelOptions o = exact_options(true);
  o.pad_decode_steps = true;
  o.stable_decode_shapes = true;  // as on a GPU
  return o;
}

TEST(DecodeBuckets, PaddedStepsMatchExactStepsAndShareOneGraph) {
  const auto& ref = Reference::get();
  static LoadedModel exact(kHfDir, exact_options(true));
  static LoadedModel bucketed(kHfDir, bucketed_options());
  LlamaModel& a = *exact.model;
  LlamaModel& b = *bucketed.model;
  const int V = a.n_vocab();
  KvCache kv_a = a.create_kv_cache(256, GGML_TYPE_F32);
  KvCache kv_b = b.create_kv_cache(256, GGML_TYPE_F32);
  for (KvCache* kv : {&kv_a, &kv_b}) kv->set_regions(4);

  // Three prompts, one pass each (not a decode step: never padded).
  std::vector<int32_t> last(3), next_pos(3);
  for (int s = 0; s < 3; ++s) {
    const auto prompt = ref.input_ids(s % ref.n_cases());
    Batch p;
    for (size_t i = 0; i < prompt.size(); ++i) p.add(prompt[i], static_cast<int32_t>(i), s, i + 1 == prompt.size());
    const std::vector<float> la = a.forward(p, kv_a);
    const std::vector<float> lb = b.forward(p, kv_b);
    EXPECT_EQ(la, lb) << "prompt " << s;
    last[s] = argmax(la.data(), V);
    next_pos[s] = static_cast<int32_t>(prompt.size());
  }

  // Decode steps of sequences {0, 1, 2}, then {0, 2} (sequence 1 has stopped): 3 and 2 tokens, both
  // padded to 8 over the 4 regions' streams.
  const uint64_t built_a = a.timings().graphs_built;
  const uint64_t built_b = b.timings().graphs_built;
  double worst = 0;
  for (int step = 0; step < 8; ++step) {
    const std::vector<int32_t> live = step < 4 ? std::vector<int32_t>{0, 1, 2} : std::vector<int32_t>{0, 2};
    Batch d;
    for (int32_t s : live) d.add(last[s], next_pos[s]++, s, true);
    const std::vector<float> la = a.forward(d, kv_a);
    const std::vector<float> lb = b.forward(d, kv_b);
    ASSERT_EQ(lb.size(), live.size() * static_cast<size_t>(V)) << "step " << step;
    worst = std::max(worst, rel_l2(lb, la));
    for (size_t r = 0; r < live.size(); ++r) {
      last[live[r]] = argmax(la.data() + r * V, V);
      EXPECT_EQ(argmax(lb.data() + r * V, V), last[live[r]]) << "step " << step << " row " << r;
    }
  }
  EXPECT_LT(worst, device_tolerance(1e-5));
  EXPECT_EQ(b.timings().graphs_built - built_b, 1u);  // one padded shape for both sizes
  EXPECT_EQ(a.timings().graphs_built - built_a, 2u);  // one per size
  for (int32_t s = 0; s < 3; ++s) EXPECT_EQ(kv_b.seq_cells(s), kv_a.seq_cells(s)) << "sequence " << s;
  EXPECT_EQ(kv_b.used(), kv_a.used());

  // Device picks of a padded step, one row masked: the padding's mask rows do not disturb them.
  Batch d;
  for (int32_t s : {0, 2}) d.add(last[s], next_pos[s]++, s, true);
  const std::vector<float> la = a.forward(d, kv_a);
  const std::span<uint64_t> masks = b.greedy_masks(2);
  const size_t words = b.greedy_mask_words();
  std::fill(masks.begin(), masks.end(), ~uint64_t{0});
  const int32_t closed = argmax(la.data(), V);  // row 0's pick, closed
  masks[static_cast<size_t>(closed) / 64] &= ~(uint64_t{1} << (closed % 64));
  std::vector<float> row0(la.begin(), la.begin() + V);
  row0[static_cast<size_t>(closed)] = -1e30f;
  const std::span<const int32_t> picks = b.forward_greedy(d, kv_b, masks.first(2 * words));
  ASSERT_EQ(picks.size(), 2u);
  EXPECT_EQ(picks[0], argmax(row0.data(), V));
  EXPECT_EQ(picks[1], argmax(la.data() + V, V));
}

// The padding reaches a bucket of the regions in use, not every region of the cache: three
// sequences at the first of 32 slots decode over 8 streams, and one more at slot 12 over 16.
TEST(DecodeBuckets, StreamsArePaddedToTheRegionsInUseNotToEveryRegion) {
  static LoadedModel bucketed(kHfDir, bucketed_options());
  LlamaModel& m = *bucketed.model;
  KvCache kv = m.create_kv_cache(512, GGML_TYPE_F32);
  kv.set_regions(32);
  auto prefill = [&](int32_t s) {
    Batch p;
    for (int32_t i = 0; i < 4; ++i) p.add(20 + i + s, i, s, i == 3);
    m.forward(p, kv);
  };
  std::vector<int32_t> next_pos(32, 4);
  auto step = [&](const std::vector<int32_t>& live) {
    Batch d;
    for (int32_t s : live) d.add(30 + s, next_pos[s]++, s, true);
    const uint64_t before = m.timings().placeholder_streams;
    m.forward(d, kv);
    return m.timings().placeholder_streams - before;
  };
  for (int32_t s : {0, 1, 2}) prefill(s);
  EXPECT_EQ(step({0, 1, 2}), 5u);  // 8 streams, 3 with a token
  prefill(12);
  EXPECT_EQ(step({0, 1, 2, 12}), 12u);  // regions 0-12 reach 13: 16 streams
}

// Homes of two regions kept high in the cache (as the scheduler places them) attend from their own
// first region, not strided over the one-region homes below: two homes of each size in 32 regions
// decode over 8 + 4 streams (8 placeholders; 44 when every group started at region 0), with the
// logits each sequence gets alone.
TEST(DecodeBuckets, AGroupOfLongerHomesStartsAtItsLowestHome) {
  static LoadedModel bucketed(kHfDir, bucketed_options());
  static LoadedModel exact(kHfDir, exact_options(true));
  LlamaModel& m = *bucketed.model;
  const int V = m.n_vocab();
  KvCache kv = m.create_kv_cache(1024, GGML_TYPE_F32);
  kv.set_regions(32, 2);
  for (int32_t s : {24, 26}) kv.set_home_span(s, 2);
  const std::vector<int32_t> seqs{0, 24, 1, 26};
  auto prompt_of = [](int32_t s) {
    std::vector<int32_t> t;
    for (int32_t i = 0; i < 5 + s % 7; ++i) t.push_back(40 + 3 * i + s);
    return t;
  };
  for (int32_t s : seqs) {
    const auto t = prompt_of(s);
    Batch p;
    for (size_t i = 0; i < t.size(); ++i) p.add(t[i], static_cast<int32_t>(i), s, i + 1 == t.size());
    m.forward(p, kv);
  }
  Batch d;
  for (int32_t s : seqs) d.add(70 + s, static_cast<int32_t>(prompt_of(s).size()), s, true);
  const uint64_t before = m.timings().placeholder_streams;
  const std::vector<float> got = m.forward(d, kv);
  EXPECT_EQ(m.timings().placeholder_streams - before, 8u);
  ASSERT_EQ(got.size(), seqs.size() * static_cast<size_t>(V));
  for (size_t r = 0; r < seqs.size(); ++r) {
    auto t = prompt_of(seqs[r]);
    t.push_back(70 + seqs[r]);
    KvCache alone = exact.model->create_kv_cache(256, GGML_TYPE_F32);
    Batch p;
    for (size_t i = 0; i < t.size(); ++i) p.add(t[i], static_cast<int32_t>(i), 0, i + 1 == t.size());
    const std::vector<float> want = exact.model->forward(p, alone);
    const std::vector<float> row(got.begin() + static_cast<std::ptrdiff_t>(r * V),
                                 got.begin() + static_cast<std::ptrdiff_t>((r + 1) * V));
    EXPECT_LT(rel_l2(row, want), device_tolerance(1e-4)) << "sequence " << seqs[r];
    EXPECT_EQ(argmax(row.data(), V), argmax(want.data(), V)) << "sequence " << seqs[r];
  }
}

// A decode step's graph keeps its shape while its sequences grow: the streams read whole homes
// (AttentionOptions::stable_shapes), not windows that follow the longest sequence in steps of 256
// cells. Sequence 0 grows from 250 to 259 cells in a home of 512: one graph for the ten steps
// (the exact model's window grows from 256 to 512 cells: two), with the exact model's logits.
TEST(DecodeBuckets, ADecodeStepKeepsItsGraphAsItsSequencesGrow) {
  static LoadedModel exact(kHfDir, exact_options(true));
  static LoadedModel bucketed(kHfDir, bucketed_options());
  LlamaModel& a = *exact.model;
  LlamaModel& b = *bucketed.model;
  const int V = a.n_vocab();
  KvCache kv_a = a.create_kv_cache(2048, GGML_TYPE_F32);
  KvCache kv_b = b.create_kv_cache(2048, GGML_TYPE_F32);
  for (KvCache* kv : {&kv_a, &kv_b}) kv->set_regions(4);
  std::vector<int32_t> last(2), next_pos{250, 5};
  for (int32_t s = 0; s < 2; ++s) {
    Batch p;
    for (int32_t i = 0; i < next_pos[s]; ++i) p.add(20 + (7 * i + s) % 90, i, s, i + 1 == next_pos[s]);
    const std::vector<float> la = a.forward(p, kv_a);
    b.forward(p, kv_b);
    last[s] = argmax(la.data(), V);
  }
  const uint64_t built_a = a.timings().graphs_built;
  const uint64_t built_b = b.timings().graphs_built;
  double worst = 0;
  for (int step = 0; step < 10; ++step) {
    Batch d;
    for (int32_t s = 0; s < 2; ++s) d.add(last[s], next_pos[s]++, s, true);
    const std::vector<float> la = a.forward(d, kv_a);
    const std::vector<float> lb = b.forward(d, kv_b);
    ASSERT_EQ(lb.size(), la.size()) << "step " << step;
    worst = std::max(worst, rel_l2(lb, la));
    for (int32_t s = 0; s < 2; ++s) {
      last[s] = argmax(la.data() + s * V, V);
      EXPECT_EQ(argmax(lb.data() + s * V, V), last[s]) << "step " << step << " sequence " << s;
    }
  }
  EXPECT_LT(worst, device_tolerance(1e-5));
  EXPECT_EQ(b.timings().graphs_built - built_b, 1u);
  EXPECT_EQ(a.timings().graphs_built - built_a, 2u);
}

// A padded decode step's graph outlives the prompt passes between two decode steps (its lane keeps
// its own buffers): the second step of the same shape runs it again, unbuilt, with the exact
// model's logits; every pass in between is built on the general lane.
TEST(DecodeBuckets, ADecodeGraphOutlivesThePromptPassesBetweenDecodeSteps) {
  static LoadedModel exact(kHfDir, exact_options(true));
  static LoadedModel bucketed(kHfDir, bucketed_options());
  LlamaModel& a = *exact.model;
  LlamaModel& b = *bucketed.model;
  const int V = a.n_vocab();
  KvCache kv_a = a.create_kv_cache(256, GGML_TYPE_F32);
  KvCache kv_b = b.create_kv_cache(256, GGML_TYPE_F32);
  for (KvCache* kv : {&kv_a, &kv_b}) kv->set_regions(4);
  std::vector<int32_t> last(4), next_pos(4);
  auto prefill = [&](int32_t s) {
    Batch p;
    next_pos[s] = 6 + s;
    for (int32_t i = 0; i < next_pos[s]; ++i) p.add(30 + 5 * i + s, i, s, i + 1 == next_pos[s]);
    const std::vector<float> la = a.forward(p, kv_a);
    const std::vector<float> lb = b.forward(p, kv_b);
    EXPECT_LT(rel_l2(lb, la), device_tolerance(1e-5)) << "prompt " << s;
    last[s] = argmax(la.data(), V);
  };
  auto decode = [&] {
    Batch d;
    for (int32_t s : {0, 1}) d.add(last[s], next_pos[s]++, s, true);
    const std::vector<float> la = a.forward(d, kv_a);
    const std::vector<float> lb = b.forward(d, kv_b);
    EXPECT_LT(rel_l2(lb, la), device_tolerance(1e-5));
    for (int32_t s : {0, 1}) {
      last[s] = argmax(la.data() + s * V, V);
      EXPECT_EQ(argmax(lb.data() + s * V, V), last[s]) << "sequence " << s;
    }
  };
  prefill(0);
  prefill(1);
  decode();
  const uint64_t built = b.timings().graphs_built;
  prefill(2);
  EXPECT_EQ(b.timings().graphs_built, built + 1);  // the prompt's graph, on the general lane
  decode();
  prefill(3);
  decode();
  EXPECT_EQ(b.timings().graphs_built, built + 2);  // the two prompts' only
  for (int32_t s = 0; s < 4; ++s) EXPECT_EQ(kv_b.seq_cells(s), kv_a.seq_cells(s)) << "sequence " << s;
}

// A decode step that fills its bucket in stream order (8 tokens, sequence r in region r) and one a
// token short (padded to 8) run one graph: a sequence finishing and another starting do not switch
// the graph back and forth. The logits are the exact model's.
TEST(DecodeBuckets, AFullDecodeStepAndOneATokenShortShareOneGraph) {
  static LoadedModel exact(kHfDir, exact_options(true));
  static LoadedModel bucketed(kHfDir, bucketed_options());
  LlamaModel& a = *exact.model;
  LlamaModel& b = *bucketed.model;
  const int V = a.n_vocab();
  KvCache kv_a = a.create_kv_cache(512, GGML_TYPE_F32);
  KvCache kv_b = b.create_kv_cache(512, GGML_TYPE_F32);
  for (KvCache* kv : {&kv_a, &kv_b}) kv->set_regions(8);
  std::vector<int32_t> last(8), next_pos(8, 5);
  for (int32_t s = 0; s < 8; ++s) {
    Batch p;
    for (int32_t i = 0; i < 5; ++i) p.add(25 + 3 * i + s, i, s, i == 4);
    const std::vector<float> la = a.forward(p, kv_a);
    b.forward(p, kv_b);
    last[s] = argmax(la.data(), V);
  }
  const uint64_t built = b.timings().graphs_built;
  for (int step = 0; step < 4; ++step) {
    Batch d;
    std::vector<int32_t> live;
    for (int32_t s = 0; s < 8; ++s) {
      if (step % 2 == 1 && s == 3) continue;  // sequence 3 sits out every other step
      d.add(last[s], next_pos[s]++, s, true);
      live.push_back(s);
    }
    const std::vector<float> la = a.forward(d, kv_a);
    const std::vector<float> lb = b.forward(d, kv_b);
    ASSERT_EQ(lb.size(), la.size()) << "step " << step;
    EXPECT_LT(rel_l2(lb, la), device_tolerance(1e-5)) << "step " << step;
    for (size_t r = 0; r < live.size(); ++r) {
      last[live[r]] = argmax(la.data() + r * V, V);
      EXPECT_EQ(argmax(lb.data() + r * V, V), last[live[r]]) << "step " << step << " row " << r;
    }
  }
  EXPECT_EQ(b.timings().graphs_built - built, 1u);
}

// The decode lane's buffers are reserved at the first pass over a cache with regions (as the
// general lane's are), so a device short of memory fails there, not at the first decode step; a
// model that does not pad decode steps has no decode lane.
TEST(DecodeBuckets, TheDecodeLaneIsReservedAtTheFirstPass) {
  static LoadedModel exact(kHfDir, exact_options(true));
  static LoadedModel bucketed(kHfDir, bucketed_options());
  for (LoadedModel* m : {&exact, &bucketed}) {
    KvCache kv = m->model->create_kv_cache(512, GGML_TYPE_F32);
    kv.set_regions(8);
    Batch p;
    for (int32_t i = 0; i < 5; ++i) p.add(40 + i, i, 0, i == 4);
    m->model->forward(p, kv);
  }
  EXPECT_GT(exact.model->compute_buffer_bytes(), 0u);
  EXPECT_EQ(exact.model->compute_buffer_bytes(true), 0u);
  const size_t reserved = bucketed.model->compute_buffer_bytes(true);
  EXPECT_GT(reserved, 0u);
  // Decode steps of every size up to a stream per region then allocate nothing more.
  KvCache kv = bucketed.model->create_kv_cache(512, GGML_TYPE_F32);
  kv.set_regions(8);
  for (int32_t s = 0; s < 8; ++s) {
    Batch p;
    for (int32_t i = 0; i < 5; ++i) p.add(40 + i + s, i, s, i == 4);
    bucketed.model->forward(p, kv);
  }
  std::vector<int32_t> next_pos(8, 5);
  for (int n = 2; n <= 8; ++n) {
    Batch d;
    for (int32_t s = 0; s < n; ++s) d.add(60 + s, next_pos[s]++, s, true);
    bucketed.model->forward(d, kv);
  }
  EXPECT_EQ(bucketed.model->compute_buffer_bytes(true), reserved);
}

// A decode step of a few sequences far apart (the end of a busy run) with sparse_decode_runs: a token
// per run over its own home, no placeholder streams, the logits of the padded streams; a step of
// sequences close together still attends as streams.
TEST(DecodeBuckets, ASparseDecodeStepAttendsATokenPerRunWithTheLogitsOfStreams) {
  static LoadedModel bucketed(kHfDir, bucketed_options());
  static LoadedModel sparse(kHfDir, [] {
    ModelOptions o = bucketed_options();
    o.sparse_decode_runs = 8;
    return o;
  }());
  LlamaModel& a = *bucketed.model;
  LlamaModel& b = *sparse.model;
  const int V = a.n_vocab();
  KvCache kv_a = a.create_kv_cache(1024, GGML_TYPE_F32);
  KvCache kv_b = b.create_kv_cache(1024, GGML_TYPE_F32);
  for (KvCache* kv : {&kv_a, &kv_b}) kv->set_regions(16);  // 64 cells each
  std::vector<int32_t> next_pos(16, 0);
  auto pass = [&](const std::vector<int32_t>& live, int n) {
    Batch batch;
    for (int32_t s : live) {
      for (int i = 0; i < n; ++i) batch.add(40 + s + i, next_pos[s]++, s, true);
    }
    const ForwardTimings before = b.timings();
    const std::vector<float> la = a.forward(batch, kv_a);
    const std::vector<float> lb = b.forward(batch, kv_b);
    EXPECT_LT(rel_l2(lb, la), device_tolerance(1e-5));
    for (size_t r = 0; r < la.size() / static_cast<size_t>(V); ++r) {
      EXPECT_EQ(argmax(lb.data() + r * V, V), argmax(la.data() + r * V, V)) << "row " << r;
    }
    return b.timings().since(before);
  };
  for (int32_t s : {0, 1, 2, 13}) pass({s}, 10);  // prompts
  // Regions 0 and 13 for 2 tokens: 14 regions apart, sparse. Run by run: no placeholder, a graph
  // built once and reused as the sequences grow.
  const ForwardTimings first = pass({0, 13}, 1);
  EXPECT_EQ(first.placeholder_streams, 0u);
  for (int step = 0; step < 3; ++step) EXPECT_EQ(pass({0, 13}, 1).graphs_built, 0u) << "step " << step;
  // Regions 0-2 for 3 tokens: close together, streams (padded to 8, 5 placeholders).
  EXPECT_EQ(pass({0, 1, 2}, 1).placeholder_streams, 5u);
  for (int32_t s : {0, 1, 2, 13}) EXPECT_EQ(kv_b.seq_cells(s), kv_a.seq_cells(s)) << "sequence " << s;
}

}  // namespace
}  // namespace rbees::model::testing
