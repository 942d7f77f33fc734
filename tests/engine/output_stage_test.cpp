// The output stage with no model: a step's rows become each job's next token and event, the KV
// blocks a step filled are published, a sink that throws cancels its job, and a prompt's
// log-probabilities are gathered from its rows and sent once.
#include "engine/output_stage.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/device.hpp"
#include "engine/test_runtime.hpp"
#include "tokenizer/tokenizer.hpp"

namespace rbees::engine {
namespace {

class RecordingSink : public Sink {
 public:
  void on_token(const TokenEvent& e) override {
    if (throws) throw std::runtime_error("client write failed");
    tokens.push_back(e);
  }
  void on_finish(const FinalResult&) override {}
  void on_prompt_logprobs(std::span<const PromptTokenLogprob> t) override {
    ++prompt_calls;
    prompt.assign(t.begin(), t.end());
  }
  bool client_gone() const override { return false; }
  bool throws = false;
  std::vector<TokenEvent> tokens;
  std::vector<PromptTokenLogprob> prompt;
  int prompt_calls = 0;
};

class OutputStageTest : public ::testing::Test {
 protected:
  OutputStageTest() : cpu_(core::find_device("cpu"), 1), kv_(cpu_, 1, 4, 4, 64, GGML_TYPE_F16), blocks_(kv_, 4) {}

  // A job admitted as KV sequence `id` with an n-token prompt, its cells placed as a step would.
  std::unique_ptr<Job> job(int32_t id, int n, std::optional<int> logprobs = std::nullopt) {
    auto j = std::make_unique<Job>();
    j->job_id = "job-" + std::to_string(id);
    std::vector<int32_t> prompt(static_cast<size_t>(n));
    std::iota(prompt.begin(), prompt.end(), 100 + 10 * id);
    sampling::SamplingParams greedy;
    greedy.temperature = 0.0f;
    ContinuationLimits limits;
    limits.max_new_tokens = 8;
    j->request.logprobs = logprobs;
    j->seq = std::make_unique<Sequence>(prompt, greedy, tok(), limits);
    j->seq->admit(id, 0);
    EXPECT_EQ(blocks_.admit(id, prompt, n + 8), 0);
    kv_.place(std::vector<int32_t>(static_cast<size_t>(n), id), [&] {
      std::vector<int32_t> p(static_cast<size_t>(n));
      std::iota(p.begin(), p.end(), 0);
      return p;
    }());
    auto sink = std::make_shared<RecordingSink>();
    sinks_.push_back(sink);
    j->sink = sink;
    return j;
  }
  RecordingSink& sink(size_t i) { return *sinks_[i]; }

  static const tokenizer::Tokenizer& tok() { return test_support::test_tokenizer(); }
  core::Device cpu_;
  model::KvCache kv_;
  KvBlocks blocks_;
  EventOutbox outbox_{false};  // delivers at once: the events are there when deliver returns
  std::vector<std::shared_ptr<RecordingSink>> sinks_;
};

TEST_F(OutputStageTest, DevicePicksBecomeEachJobsTokenAndEvent) {
  const int V = static_cast<int>(tok().vocab_size());
  OutputStage out(blocks_, outbox_, V);
  auto a = job(0, 5), b = job(1, 3);
  std::vector<RunSlice> slices{{a->seq.get(), 5, true, false, 0}, {b->seq.get(), 3, true, false, 1}};
  std::vector<Job*> jobs{a.get(), b.get()};
  const std::vector<int32_t> picks{42, 7};
  out.deliver({true, picks, {}}, slices, jobs);

  EXPECT_EQ(a->seq->n_computed(), 5);
  EXPECT_EQ(a->seq->tokens().back(), 42);
  EXPECT_EQ(b->seq->tokens().back(), 7);
  ASSERT_EQ(sink(0).tokens.size(), 1u);
  EXPECT_EQ(sink(0).tokens[0].id, 42);
  ASSERT_EQ(sink(1).tokens.size(), 1u);
  EXPECT_EQ(sink(1).tokens[0].id, 7);
  EXPECT_TRUE(a->has_first_token);
  EXPECT_EQ(out.totals().device_picks, 2u);
  EXPECT_EQ(out.totals().generated_tokens, 2u);
  // a's first 4 prompt tokens filled a block: it is published for the prefix cache.
  EXPECT_EQ(blocks_.n_cached(), 1);
}

TEST_F(OutputStageTest, ASinkThatThrowsCancelsItsJobAlone) {
  OutputStage out(blocks_, outbox_, static_cast<int>(tok().vocab_size()));
  auto a = job(0, 2), b = job(1, 2);
  sink(0).throws = true;
  std::vector<RunSlice> slices{{a->seq.get(), 2, true, false, 0}, {b->seq.get(), 2, true, false, 1}};
  std::vector<Job*> jobs{a.get(), b.get()};
  const std::vector<int32_t> picks{5, 6};
  out.deliver({true, picks, {}}, slices, jobs);
  EXPECT_TRUE(a->cancelled);
  EXPECT_FALSE(b->cancelled);
  EXPECT_EQ(sink(1).tokens.size(), 1u);
}

TEST_F(OutputStageTest, APromptsLogprobsAreGatheredFromItsRowsAndSentOnce) {
  const int V = static_cast<int>(tok().vocab_size());
  OutputStage out(blocks_, outbox_, V);
  auto a = job(0, 4, 2);
  a->seq->set_computes_whole_prompt(true);
  // Every row uniform: each prompt token after the first has log-probability -log(V).
  const std::vector<float> logits(static_cast<size_t>(4 * V), 0.0f);
  std::vector<RunSlice> first{{a->seq.get(), 2, false, true, -1, 0}};
  std::vector<Job*> jobs{a.get()};
  out.deliver({false, {}, std::span<const float>(logits.data(), 2 * static_cast<size_t>(V))}, first, jobs);
  EXPECT_EQ(sink(0).prompt_calls, 0);  // the prompt is not computed yet
  std::vector<RunSlice> rest{{a->seq.get(), 2, true, true, 1, 0}};
  out.deliver({false, {}, std::span<const float>(logits.data(), 2 * static_cast<size_t>(V))}, rest, jobs);
  ASSERT_EQ(sink(0).prompt_calls, 1);
  ASSERT_EQ(sink(0).prompt.size(), 4u);
  EXPECT_EQ(sink(0).prompt[0].id, a->seq->tokens()[0]);
  EXPECT_FALSE(sink(0).prompt[0].logprob.has_value());
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(sink(0).prompt[i].id, a->seq->tokens()[i]);
    ASSERT_TRUE(sink(0).prompt[i].logprob.has_value());
    EXPECT_NEAR(*sink(0).prompt[i].logprob, -std::log(static_cast<float>(V)), 1e-4);
    EXPECT_EQ(sink(0).prompt[i].top_logprobs.size(), 2u);
  }
  // The sampled token came with its log-probability, and the prompt is not sent again.
  ASSERT_EQ(sink(0).tokens.size(), 1u);
  EXPECT_NEAR(sink(0).tokens[0].logprob, -std::log(static_cast<float>(V)), 1e-4);
  EXPECT_FALSE(a->seq->computes_whole_prompt());
}

// Overlapped steps: the tokens of a step in flight drawn from its logits rows by take_pending(),
// shared with helper threads, then resolved, are the tokens (and log-probabilities) each sequence
// draws from the same rows one step after another; the sampler takes each token once.
TEST_F(OutputStageTest, PendingTokensDrawnOnHelpersAreEachSequencesOwnDraws) {
  const int V = static_cast<int>(tok().vocab_size());
  OutputStage out(blocks_, outbox_, V, 3);
  ASSERT_EQ(out.sampling_helpers(), 3);
  constexpr int kSeqs = 24, kSteps = 6;
  auto params = [](int i) {
    sampling::SamplingParams p;
    p.temperature = 0.5f + 0.1f * static_cast<float>(i % 5);
    p.seed = 900 + i;
    if (i % 4 == 1) p.top_p = 0.8f;
    if (i % 4 == 2) p.top_k = 30;
    if (i % 4 == 3) p.frequency_penalty = 2.0f;  // a token taken twice would show
    if (i % 6 == 0) p.temperature = 0.0f;
    return p;
  };
  ContinuationLimits limits;
  limits.max_new_tokens = kSteps;
  limits.ignore_eos = true;
  std::vector<std::unique_ptr<Job>> ahead, in_turn;
  for (auto* set : {&ahead, &in_turn}) {
    for (int i = 0; i < kSeqs; ++i) {
      auto j = std::make_unique<Job>();
      if (i % 3 == 0) j->request.logprobs = 2;
      j->seq = std::make_unique<Sequence>(std::vector<int32_t>{1, 2, 3}, params(i), tok(), limits);
      j->seq->admit(i, 0);
      set->push_back(std::move(j));
    }
  }
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(static_cast<size_t>(kSeqs * V));
  for (int step = 0; step < kSteps; ++step) {
    for (float& x : logits) x = normal(rng);
    std::vector<RunSlice> slices;
    std::vector<Job*> jobs;
    for (int i = 0; i < kSeqs; ++i) {
      Sequence& a = *ahead[static_cast<size_t>(i)]->seq;
      const int n = step == 0 ? 3 : 1;
      a.computed(n);
      a.push_pending();
      RunSlice sl{&a, n, true, false, i};
      sl.advanced = true;
      slices.push_back(sl);
      jobs.push_back(ahead[static_cast<size_t>(i)].get());
    }
    out.take_pending({false, {}, logits}, slices, jobs);
    for (int i = 0; i < kSeqs; ++i) {
      Job& b = *in_turn[static_cast<size_t>(i)];
      b.seq->computed(step == 0 ? 3 : 1);
      const std::span<const float> row(logits.data() + static_cast<size_t>(i * V), static_cast<size_t>(V));
      sampling::SampledToken want_lp, got_lp;
      b.seq->on_logits(row, b.request.logprobs, &want_lp);
      Sequence& a = *ahead[static_cast<size_t>(i)]->seq;
      EXPECT_EQ(a.tokens().back(), b.seq->tokens().back()) << "step " << step << ", sequence " << i;
      a.resolve_pending(&got_lp);
      EXPECT_FALSE(a.has_pending());
      if (b.request.logprobs) {
        EXPECT_EQ(got_lp.id, want_lp.id);
        EXPECT_EQ(got_lp.logprob, want_lp.logprob);
        EXPECT_EQ(got_lp.top.size(), 2u);
      }
    }
  }
  for (int i = 0; i < kSeqs; ++i) {
    EXPECT_EQ(ahead[static_cast<size_t>(i)]->seq->tokens(), in_turn[static_cast<size_t>(i)]->seq->tokens()) << i;
  }
  EXPECT_GT(out.totals().sample_ms, 0.0);
}

}  // namespace
}  // namespace rbees::engine
