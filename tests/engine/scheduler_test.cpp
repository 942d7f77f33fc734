#include "engine/scheduler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "engine/test_runtime.hpp"
#include "tokenizer/tokenizer.hpp"

// The batching policy with no model: a KV budget of so many tokens, sequences with plain prompts.
namespace rbees::engine {
namespace {

class FakeBudget : public KvBudget {
 public:
  explicit FakeBudget(int tokens) : free_(tokens) {}
  std::optional<int> admit(int32_t slot, std::span<const int32_t> prompt, int max_total, bool, int span) override {
    if (max_total > free_) return std::nullopt;
    free_ -= max_total;
    held_[slot] = max_total;
    spans_[slot] = span;
    return prompt.size() > static_cast<size_t>(cached_) ? cached_ : 0;
  }
  bool grow(int32_t slot, int n_tokens) override {
    const int more = n_tokens - held_[slot];
    if (more <= 0) return true;
    if (more > free_) return false;
    free_ -= more;
    held_[slot] = n_tokens;
    return true;
  }
  void release(int32_t slot) override {
    free_ += held_[slot];
    held_.erase(slot);
  }
  int32_t prefix_home(std::span<const int32_t>) const override { return home_; }
  bool next_at_home(int32_t slot) const override { return away_.count(slot) == 0; }
  // Homes of region_ tokens per slot, spanning up to max_span_ slots (1: no spanning).
  int home_span_for(int max_total) const override { return std::clamp(1 + (max_total - 1) / region_, 1, max_span_); }
  int free_ = 0;
  int region_ = 100;
  int max_span_ = 1;
  std::map<int32_t, int> spans_;  // the span each admission was given
  int cached_ = 0;                // prompt tokens every admission reuses
  int32_t home_ = -1;             // what prefix_home() answers
  std::map<int32_t, bool> away_;  // slots whose next token is not at home
  std::map<int32_t, int> held_;
};

class SchedulerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Sequence> seq(int n_prompt, int max_new = 8) {
    std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
    std::iota(prompt.begin(), prompt.end(), 10);
    ContinuationLimits limits;
    limits.max_new_tokens = max_new;
    sampling::SamplingParams greedy;
    greedy.temperature = 0.0f;
    return std::make_unique<Sequence>(std::move(prompt), greedy, tok(), limits);
  }
  static const tokenizer::Tokenizer& tok() { return test_support::test_tokenizer(); }
};

TEST_F(SchedulerTest, AdmitsIntoTheLowestFreeSlotUntilSlotsOrRoomRunOut) {
  Scheduler sched(3, 64);
  FakeBudget kv(100);
  auto a = seq(10), b = seq(10), c = seq(60), d = seq(5);
  EXPECT_EQ(sched.admit(*a, 30, kv), 0);
  EXPECT_EQ(sched.admit(*b, 30, kv), 1);
  EXPECT_EQ(sched.admit(*c, 70, kv), std::nullopt);  // 40 tokens of room left: it waits
  EXPECT_EQ(c->state(), SequenceState::waiting);
  EXPECT_EQ(sched.free_slots(), 1);
  kv.release(0);
  sched.release(0);
  EXPECT_EQ(sched.admit(*c, 70, kv), 0);  // the lowest free slot, not slot 2
  EXPECT_EQ(c->state(), SequenceState::prefilling);
  EXPECT_EQ(c->id(), 0);
  EXPECT_EQ(sched.admit(*d, 0, kv), 2);
  EXPECT_EQ(sched.free_slots(), 0);
  auto e = seq(5);
  EXPECT_EQ(sched.admit(*e, 0, kv), std::nullopt);  // no slot
  kv.release(2);
  sched.release(2);
  EXPECT_THROW(sched.release(2), std::logic_error);  // twice
  EXPECT_THROW(sched.release(3), std::logic_error);  // no such slot
}

// Homes of up to two slots (regions of 100 tokens): a request of more than 100 tokens takes two free
// slots from an even one and waits while there are none (nobody overtakes it); one of at most 100
// takes a free slot between busy ones where there is one, so that free pairs stay whole.
TEST_F(SchedulerTest, LongRequestsTakeAlignedRunsOfSlotsAndShortOnesKeepRunsWhole) {
  Scheduler sched(6, 64);
  FakeBudget kv(10000);
  kv.max_span_ = 2;
  auto a = seq(10), b = seq(10), c = seq(10), d = seq(10), e = seq(10), f = seq(10);
  EXPECT_EQ(sched.admit(*a, 50, kv), 0);  // nothing busy: the lowest free slot
  EXPECT_EQ(kv.spans_[0], 1);
  EXPECT_EQ(sched.admit(*b, 150, kv), 4) << "two slots from an even one, from the top down: 4 and 5";
  EXPECT_EQ(kv.spans_[4], 2);
  EXPECT_EQ(sched.free_slots(), 3);
  EXPECT_EQ(sched.admit(*c, 60, kv), 1) << "one-slot homes from the bottom up; 2 and 3 stay a pair";
  EXPECT_EQ(sched.admit(*d, 200, kv), 2);
  EXPECT_EQ(sched.free_slots(), 0);
  EXPECT_EQ(sched.admit(*e, 150, kv), std::nullopt);
  // Slot 1 frees: one slot, no pair. Then slot 0: the pair 0-1.
  kv.release(1);
  sched.release(1);
  EXPECT_EQ(sched.admit(*e, 150, kv), std::nullopt) << "no free pair yet";
  EXPECT_EQ(e->state(), SequenceState::waiting);
  kv.release(0);
  sched.release(0);
  EXPECT_EQ(sched.admit(*e, 150, kv), 0);
  // Releasing a two-slot sequence frees both its slots.
  kv.release(2);
  sched.release(2);
  EXPECT_EQ(sched.free_slots(), 2);
  EXPECT_THROW(sched.release(3), std::logic_error) << "slot 3 was part of 2's home, not a sequence";
  EXPECT_EQ(sched.admit(*f, 120, kv), 2);
  EXPECT_EQ(sched.free_slots(), 0);
}

// A request that waits for a free pair reserves the pair with the most free slots; the requests
// behind it take the other free slots instead of idling them, never the reserved one, and the
// reservation lasts only while its request waits.
TEST_F(SchedulerTest, ARequestWaitingForAPairReservesOneAndOthersTakeTheRestOfTheSlots) {
  Scheduler sched(6, 64, 0, true);
  FakeBudget kv(100000);
  kv.max_span_ = 2;
  std::vector<std::unique_ptr<Sequence>> busy;
  for (int i = 0; i < 6; ++i) {
    busy.push_back(seq(10));
    ASSERT_TRUE(sched.admit(*busy.back(), 50, kv).has_value());
  }
  auto end = [&](int32_t slot) {
    kv.release(slot);
    sched.release(slot);
  };
  end(1);
  end(3);  // pairs 0-1 and 2-3 are half free; 4-5 busy
  auto h = seq(10), l = seq(10), l2 = seq(10);
  sched.begin_admission();
  EXPECT_EQ(sched.admit(*h, 150, kv), std::nullopt);
  EXPECT_TRUE(sched.waits_for_run()) << "the request behind may go on";
  EXPECT_EQ(sched.reserved(), 0) << "a tie between 0-1 and 2-3: the lowest";
  EXPECT_EQ(sched.admit(*l, 50, kv), 3) << "slot 1 is kept for the pair 0-1";
  EXPECT_EQ(sched.admit(*l2, 50, kv), std::nullopt);
  EXPECT_FALSE(sched.waits_for_run()) << "a one-slot request waiting for a slot stops the pass";
  // Next pass: the same pair again, until its other slot ends.
  sched.begin_admission();
  EXPECT_EQ(sched.admit(*h, 150, kv), std::nullopt);
  EXPECT_EQ(sched.reserved(), 0);
  EXPECT_EQ(sched.admit(*l2, 50, kv), std::nullopt);
  end(0);
  sched.begin_admission();
  EXPECT_EQ(sched.admit(*h, 150, kv), 0);
  EXPECT_EQ(kv.spans_[0], 2);
  EXPECT_EQ(sched.reserved(), -1);
  EXPECT_EQ(sched.free_slots(), 0);
  // A reservation whose request no longer asks (it was cancelled) ends with its pass.
  end(2);
  end(5);  // 2 (with 3 busy) and 5 (with 4 busy): no free pair
  auto h2 = seq(10), l3 = seq(10);
  sched.begin_admission();
  EXPECT_EQ(sched.admit(*h2, 150, kv), std::nullopt);
  EXPECT_EQ(sched.reserved(), 2);
  EXPECT_EQ(sched.admit(*l3, 50, kv), 5);
  sched.begin_admission();
  EXPECT_EQ(sched.reserved(), -1);
  auto l4 = seq(10);
  EXPECT_EQ(sched.admit(*l4, 50, kv), 2);

  // Without reservations (the engine's default) the waiting request holds up the queue.
  Scheduler strict(2, 64);
  FakeBudget kv2(100000);
  kv2.max_span_ = 2;
  auto a = seq(10), b = seq(10), c = seq(10);
  ASSERT_EQ(strict.admit(*a, 50, kv2), 0);
  strict.begin_admission();
  EXPECT_EQ(strict.admit(*b, 150, kv2), std::nullopt);
  EXPECT_FALSE(strict.waits_for_run());
  EXPECT_EQ(strict.reserved(), -1);
}

TEST_F(SchedulerTest, PrefersTheFreeSlotHoldingTheCachedPrefixAndCountsReusedTokens) {
  Scheduler sched(4, 64);
  FakeBudget kv(1000);
  kv.home_ = 2;
  kv.cached_ = 16;
  auto a = seq(40);
  EXPECT_EQ(sched.admit(*a, 50, kv), 2);
  EXPECT_EQ(a->n_reused(), 16);
  EXPECT_EQ(a->prompt_remaining(), 24);
  auto b = seq(40);
  EXPECT_EQ(sched.admit(*b, 50, kv), 0) << "slot 2 is taken: the lowest free one";
}

TEST_F(SchedulerTest, PlansDecodesAtHomeFirstInSlotOrderThenPromptChunksWithinTheBudget) {
  Scheduler sched(6, 50);
  FakeBudget kv(10000);
  std::vector<std::unique_ptr<Sequence>> seqs;
  for (int n : {30, 30, 30, 40, 40, 40}) seqs.push_back(seq(n));
  // Admitted in order into slots 0..5; the first three finish their prompts and decode.
  for (auto& s : seqs) ASSERT_TRUE(sched.admit(*s, 100, kv).has_value());
  std::vector<float> logits(static_cast<size_t>(tok().vocab_size()), 0.0f);
  for (int i = 0; i < 3; ++i) {
    seqs[i]->computed(seqs[i]->prompt_remaining());
    logits[5] = 1.0f;
    seqs[i]->on_logits(logits);
    ASSERT_EQ(seqs[i]->state(), SequenceState::decoding);
  }
  seqs[4]->computed(35);  // 5 prompt tokens left
  kv.away_[0] = true;     // slot 0's next token goes outside its region
  // Running in admission order, except that sequence 2 was admitted before 1.
  std::vector<Sequence*> running = {seqs[0].get(), seqs[2].get(), seqs[1].get(),
                                    seqs[3].get(), seqs[4].get(), seqs[5].get()};
  const auto p = sched.plan(running, kv);
  EXPECT_TRUE(p.preempted.empty());
  const auto& plan = p.slices;
  ASSERT_EQ(plan.size(), 6u);
  // Decodes: slots 1 and 2 (at home, slot order), then slot 0.
  EXPECT_EQ(running[plan[0].index]->id(), 1);
  EXPECT_EQ(running[plan[1].index]->id(), 2);
  EXPECT_EQ(running[plan[2].index]->id(), 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(plan[i].n_tokens, 1);
    EXPECT_TRUE(plan[i].sample);
  }
  // Prompt chunks oldest first: all 40 of sequence 3 and the 5 left of sequence 4 (both complete:
  // sample), then 5 of sequence 5's 40 with what is left of the budget of 50 (no sample).
  EXPECT_EQ(running[plan[3].index], seqs[3].get());
  EXPECT_EQ(plan[3].n_tokens, 40);
  EXPECT_TRUE(plan[3].sample);
  EXPECT_EQ(running[plan[4].index], seqs[4].get());
  EXPECT_EQ(plan[4].n_tokens, 5);
  EXPECT_TRUE(plan[4].sample);
  EXPECT_EQ(running[plan[5].index], seqs[5].get());
  EXPECT_EQ(plan[5].n_tokens, 5);
  EXPECT_FALSE(plan[5].sample);
}

// A decoding sequence that needs room and finds none preempts the most recently admitted sequence;
// the preempted one is back to waiting and, admitted again, recomputes all its tokens but the last
// and goes on decoding without sampling anew.
TEST_F(SchedulerTest, PreemptsTheMostRecentlyAdmittedWhenADecodeFindsNoRoom) {
  Scheduler sched(3, 100);
  FakeBudget kv(36);
  auto a = seq(10), b = seq(10), c = seq(10);
  ASSERT_EQ(sched.admit(*a, 11, kv), 0);
  ASSERT_EQ(sched.admit(*b, 11, kv), 1);
  ASSERT_EQ(sched.admit(*c, 11, kv), 2);  // 3 tokens left
  std::vector<float> logits(static_cast<size_t>(tok().vocab_size()), 0.0f);
  logits[5] = 1.0f;
  for (auto* s : {a.get(), b.get()}) {
    s->computed(10);
    s->on_logits(logits);
    s->computed(1);  // its first generated token is in the cache: it needs a 12th cell next
    s->on_logits(logits);
  }
  std::vector<Sequence*> running = {a.get(), b.get(), c.get()};
  // a takes 1 of the 3 free tokens, b the next: room enough, nobody preempted.
  auto p = sched.plan(running, kv);
  EXPECT_TRUE(p.preempted.empty());
  ASSERT_EQ(p.slices.size(), 3u);
  // Two more tokens each: a gets the last free token, b finds none and preempts c (admitted last).
  for (auto* s : {a.get(), b.get()}) {
    s->computed(1);
    s->on_logits(logits);
  }
  kv.free_ = 1;
  p = sched.plan(running, kv);
  ASSERT_EQ(p.preempted, (std::vector<size_t>{2}));
  EXPECT_EQ(c->state(), SequenceState::waiting);
  EXPECT_EQ(c->n_preemptions(), 1);
  EXPECT_EQ(sched.free_slots(), 1);
  ASSERT_EQ(p.slices.size(), 2u);
  for (const auto& sl : p.slices) EXPECT_NE(sl.index, 2u);
  // With no room for a either once c is gone, the youngest left (b) goes, then a itself would.
  kv.free_ = 0;
  a->computed(1);
  a->on_logits(logits);
  b->computed(1);
  b->on_logits(logits);
  running = {a.get(), b.get()};
  p = sched.plan(running, kv);
  EXPECT_EQ(p.preempted, (std::vector<size_t>{1})) << "b preempted for a";
  ASSERT_EQ(p.slices.size(), 1u);
  EXPECT_EQ(p.slices[0].index, 0u);

  // b, admitted again, recomputes every token but its last and then decodes with no sample.
  const int b_tokens = static_cast<int>(b->tokens().size());
  kv.free_ = 100;
  ASSERT_TRUE(sched.admit(*b, 30, kv).has_value());
  EXPECT_EQ(b->n_to_prefill(), b_tokens - 1);
  running = {a.get(), b.get()};
  p = sched.plan(running, kv);
  ASSERT_EQ(p.slices.size(), 2u);
  EXPECT_EQ(p.slices[1].n_tokens, b_tokens - 1);
  EXPECT_FALSE(p.slices[1].sample);
  b->computed(b_tokens - 1);
  EXPECT_EQ(b->state(), SequenceState::decoding);
  EXPECT_EQ(static_cast<int>(b->tokens().size()), b_tokens);
}

// A step is cut to what one graph holds: decodes first, prompt tokens in what is left, but never
// less than a quarter of the graph for prompts, however many decodes there are.
TEST_F(SchedulerTest, CutsPromptTokensSoTheStepFitsOneGraph) {
  std::vector<float> logits(static_cast<size_t>(tok().vocab_size()), 0.0f);
  logits[5] = 1.0f;
  auto plan_with = [&](int n_decoding, int step_tokens) {
    Scheduler sched(n_decoding + 1, 100, step_tokens);
    FakeBudget kv(100000);
    std::vector<std::unique_ptr<Sequence>> seqs;
    std::vector<Sequence*> running;
    for (int i = 0; i <= n_decoding; ++i) {
      seqs.push_back(seq(i < n_decoding ? 4 : 500));
      EXPECT_TRUE(sched.admit(*seqs.back(), 600, kv).has_value());
      running.push_back(seqs.back().get());
    }
    for (int i = 0; i < n_decoding; ++i) {
      seqs[i]->computed(seqs[i]->prompt_remaining());
      seqs[i]->on_logits(logits);
    }
    const auto p = sched.plan(running, kv);
    int prompt = 0;
    for (const StepSlice& sl : p.slices) {
      if (running[sl.index] == seqs.back().get()) prompt += sl.n_tokens;
    }
    return std::pair{static_cast<int>(p.slices.size()) - 1, prompt};
  };
  EXPECT_EQ(plan_with(10, 0), std::pair(10, 100));    // no cap: the prefill chunk
  EXPECT_EQ(plan_with(10, 64), std::pair(10, 54));    // 10 decodes + 54 prompt tokens fill 64
  EXPECT_EQ(plan_with(10, 512), std::pair(10, 100));  // the chunk is the smaller
  EXPECT_EQ(plan_with(60, 64), std::pair(60, 16));    // a quarter of 64 is kept for prompts
}

TEST_F(SchedulerTest, RefusesSenselessOptions) {
  EXPECT_THROW(Scheduler(0, 10), std::invalid_argument);
  EXPECT_THROW(Scheduler(1, 0), std::invalid_argument);
  EXPECT_THROW(Scheduler(1, 10, -1), std::invalid_argument);
}

}  // namespace
}  // namespace rbees::engine
