// The model runner: a step's slices become a batch with the right logits rows, the device's pick is
// taken only where every sampling row allows it, and the rows hold what the model computes for each
// sequence alone.
#include "engine/model_runner.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <vector>

#include "engine/test_runtime.hpp"

namespace rbees::engine {
namespace {

class ModelRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { rt_ = test_support::load_test_runtime().release(); }
  static void TearDownTestSuite() {
    delete rt_;
    rt_ = nullptr;
  }
  static std::vector<int32_t> prompt(int n, int first) {
    std::vector<int32_t> p(static_cast<size_t>(n));
    std::iota(p.begin(), p.end(), first);
    return p;
  }
  // An admitted greedy sequence (KV id `id`) with nothing computed yet.
  static std::unique_ptr<Sequence> admitted(std::vector<int32_t> tokens, int32_t id) {
    sampling::SamplingParams greedy;
    greedy.temperature = 0.0f;
    ContinuationLimits limits;
    limits.max_new_tokens = 8;
    auto s = std::make_unique<Sequence>(std::move(tokens), greedy, rt_->tokenizer(), limits);
    s->admit(id, 0);
    return s;
  }
  // The logits of the last token of `tokens`, computed alone in a cache of its own.
  static std::vector<float> alone(const std::vector<int32_t>& tokens) {
    model::KvCache kv = rt_->model().create_kv_cache(256);
    model::Batch b;
    for (size_t i = 0; i < tokens.size(); ++i) b.add(tokens[i], static_cast<int32_t>(i), 0, i + 1 == tokens.size());
    return rt_->model().forward(b, kv);
  }
  static size_t argmax(std::span<const float> row) {
    return static_cast<size_t>(std::max_element(row.begin(), row.end()) - row.begin());
  }
  static ModelRuntime* rt_;
};
ModelRuntime* ModelRunnerTest::rt_ = nullptr;

TEST_F(ModelRunnerTest, RowsFollowTheSlicesAndHoldEachSequencesOwnLogits) {
  model::KvCache kv = rt_->model().create_kv_cache(256);
  ModelRunner runner(rt_->model(), kv, /*greedy_on_device=*/true, /*masks_while_computing=*/true);
  const auto pa = prompt(5, 40), pb = prompt(3, 90), pc = prompt(6, 200);
  auto a = admitted(pa, 0), b = admitted(pb, 1), c = admitted(pc, 2);
  a->set_computes_whole_prompt(true);  // a prompt whose log-probabilities are asked for
  std::vector<RunSlice> slices{{a.get(), 5, true}, {b.get(), 3, true}, {c.get(), 4, false}};
  const StepRows rows = runner.run(slices);

  EXPECT_EQ(runner.batch_tokens(), 12u);
  EXPECT_EQ(runner.n_rows(), 6);  // every row of a's prompt, b's last, none of c's chunk
  EXPECT_EQ(slices[0].first_row, 0);
  EXPECT_EQ(slices[0].logits_row, 4);
  EXPECT_EQ(slices[1].first_row, -1);
  EXPECT_EQ(slices[1].logits_row, 5);
  EXPECT_EQ(slices[2].logits_row, -1);
  // Every row of a prompt is wanted: the logits come back, not the device's picks.
  ASSERT_FALSE(rows.picked_on_device);
  const size_t V = static_cast<size_t>(rt_->model().n_vocab());
  ASSERT_EQ(rows.logits.size(), 6 * V);
  const std::vector<float> ra = alone(pa), rb = alone(pb);
  // F16 weights summed in another order in a batch than alone (0.023 at most on an AVX-512 host);
  // another sequence's row would be off by whole units.
  for (size_t i = 0; i < V; ++i) {
    EXPECT_NEAR(rows.logits[4 * V + i], ra[i], 5e-2f) << "a, token " << i;
    EXPECT_NEAR(rows.logits[5 * V + i], rb[i], 5e-2f) << "b, token " << i;
  }
}

TEST_F(ModelRunnerTest, TheDevicePicksOnlyWhenEveryRowIsGreedyWithoutLogprobs) {
  const auto pa = prompt(7, 300), pb = prompt(4, 500);
  std::vector<size_t> want;
  for (const auto& p : {pa, pb}) {
    const auto logits = alone(p);
    want.push_back(argmax(logits));
  }
  for (const bool logprobs : {false, true}) {
    SCOPED_TRACE(logprobs ? "b wants log-probabilities" : "plain greedy");
    model::KvCache kv = rt_->model().create_kv_cache(256);
    ModelRunner runner(rt_->model(), kv, /*greedy_on_device=*/true, /*masks_while_computing=*/true);
    auto a = admitted(pa, 0), b = admitted(pb, 1);
    std::vector<RunSlice> slices{{a.get(), 7, true}, {b.get(), 4, true, logprobs}};
    const StepRows rows = runner.run(slices);
    EXPECT_EQ(rows.picked_on_device, !logprobs);
    for (size_t r = 0; r < 2; ++r) {
      const size_t got = rows.picked_on_device
                             ? static_cast<size_t>(rows.picks[r])
                             : argmax(rows.logits.subspan(r * static_cast<size_t>(rt_->model().n_vocab()),
                                                          static_cast<size_t>(rt_->model().n_vocab())));
      EXPECT_EQ(got, want[r]) << "row " << r;
    }
  }
  // A runner told not to pick on the device never does.
  model::KvCache kv = rt_->model().create_kv_cache(256);
  ModelRunner host(rt_->model(), kv, /*greedy_on_device=*/false, /*masks_while_computing=*/true);
  auto a = admitted(pa, 0);
  std::vector<RunSlice> one{{a.get(), 7, true}};
  const StepRows rows = host.run(one);
  EXPECT_FALSE(rows.picked_on_device);
  EXPECT_EQ(argmax(rows.logits), want[0]);
}

}  // namespace
}  // namespace rbees::engine
