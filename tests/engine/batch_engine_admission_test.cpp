// Admission bounds of the batching engine: max_seqs running plus max_queue waiting, whatever the
// scheduler is doing when requests arrive. The scheduler is held mid-step deterministically by a
// sink that blocks in on_token, called from the scheduler thread when the engine hands events over
// there (events_thread off), so a burst always lands while a step runs, as it does under real load.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/batch_engine.hpp"
#include "engine/model_runtime.hpp"
#include "engine/test_runtime.hpp"

namespace rbees::engine {
namespace {

using test_support::test_device;

// Counts one job's tokens; with gate_at > 0 it holds the scheduler thread at that token until
// released.
struct GateSink : Sink {
  explicit GateSink(int gate) : gate_at(gate) {}
  std::mutex mu;
  std::condition_variable cv;
  const int gate_at;
  bool held = false;
  bool released = false;
  int n_tokens = 0;
  std::optional<FinalResult> end;

  void on_token(const TokenEvent&) override {
    std::unique_lock lk(mu);
    ++n_tokens;
    if (n_tokens == gate_at) {
      held = true;
      cv.notify_all();
      cv.wait(lk, [&] { return released; });
    }
    cv.notify_all();
  }
  void on_finish(const FinalResult& r) override {
    std::lock_guard lk(mu);
    end = r;
    cv.notify_all();
  }
  bool client_gone() const override { return false; }

  // True once the scheduler is held here; false when the job ended first.
  bool wait_held() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return held || end.has_value(); });
    return held;
  }
  void release() {
    std::lock_guard lk(mu);
    released = true;
    cv.notify_all();
  }
  void wait_tokens(int n) {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return n_tokens >= n || end.has_value(); });
  }
  FinalResult wait_end() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return end.has_value(); });
    return *end;
  }
  bool ended() {
    std::lock_guard lk(mu);
    return end.has_value();
  }
};

// Declared after the engine: lets the scheduler go before the engine joins it, even when an
// assertion returns early.
struct ReleaseOnExit {
  std::shared_ptr<GateSink> gate;
  ~ReleaseOnExit() { gate->release(); }
};

Request request(const std::string& id, int max_tokens) {
  Request r;
  r.job_id = id;
  r.prompt = TextPrompt{"Prince Andrew looked at the sky", true};
  r.sampling.temperature = 0.0f;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;  // every job runs to exactly max_tokens
  return r;
}

constexpr int kMaxSeqs = 4;
constexpr int kMaxQueue = 4;
constexpr int kCapacity = kMaxSeqs + kMaxQueue;

class BatchEngineAdmissionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { runtime_ = test_support::load_test_runtime().release(); }
  static void TearDownTestSuite() {
    delete runtime_;
    runtime_ = nullptr;
  }
  static BatchEngineOptions options() {
    BatchEngineOptions opts;
    opts.max_seqs = kMaxSeqs;
    opts.max_queue = kMaxQueue;
    opts.events_thread = false;  // a GateSink then holds the scheduler itself
    return opts;
  }

  // With the scheduler held mid-step by `gate` (running, gate_at its 2nd token), submits
  // kCapacity - 1 more jobs of `tokens` tokens back to back: every one must be accepted and the
  // next refused as OVERLOADED. Returns the accepted jobs' sinks.
  static std::vector<std::shared_ptr<GateSink>> fill_while_held(BatchEngine& engine, const std::string& prefix,
                                                                int tokens) {
    std::vector<std::shared_ptr<GateSink>> out;
    for (int i = 1; i < kCapacity; ++i) {
      auto s = std::make_shared<GateSink>(0);
      const auto res = engine.submit(request(prefix + std::to_string(i), tokens), s);
      EXPECT_EQ(res.admission, Admission::accepted)
          << "request " << i + 1 << " of " << kCapacity << ": " << res.message;
      if (res.admission == Admission::accepted) out.push_back(s);
    }
    // Accepted but not yet admitted (the scheduler is mid-step): all of them count as queued.
    EXPECT_EQ(engine.stats().queue_length, kCapacity - 1);
    EXPECT_EQ(engine.stats().running_sequences, 1);
    auto refused_sink = std::make_shared<GateSink>(0);
    const auto refused = engine.submit(request(prefix + "-over", tokens), refused_sink);
    EXPECT_EQ(refused.admission, Admission::overloaded);
    EXPECT_NE(refused.message.find(std::to_string(kCapacity)), std::string::npos) << refused.message;
    EXPECT_FALSE(refused_sink->ended());
    return out;
  }

  static ModelRuntime* runtime_;
};
ModelRuntime* BatchEngineAdmissionTest::runtime_ = nullptr;

TEST_F(BatchEngineAdmissionTest, BurstDuringAStepFillsTheFreeSlotsAndTheQueueAndAllComplete) {
  constexpr int kFirstTokens = 16;
  constexpr int kTokens = 8;
  BatchEngine engine(*runtime_, options());
  auto first = std::make_shared<GateSink>(2);  // held at its 2nd token: one whole step has run
  ReleaseOnExit release{first};
  ASSERT_EQ(engine.submit(request("first", kFirstTokens), first).admission, Admission::accepted);
  ASSERT_TRUE(first->wait_held());

  auto rest = fill_while_held(engine, "burst", kTokens);
  ASSERT_EQ(rest.size(), static_cast<size_t>(kCapacity - 1));
  first->release();

  const FinalResult first_end = first->wait_end();
  EXPECT_EQ(first_end.reason, FinishReason::max_tokens);
  EXPECT_EQ(first_end.tokens_out, kFirstTokens);
  EXPECT_EQ(first->n_tokens, kFirstTokens);
  for (size_t i = 0; i < rest.size(); ++i) {
    const FinalResult end = rest[i]->wait_end();
    EXPECT_EQ(end.reason, FinishReason::max_tokens) << "burst" << i + 1;
    EXPECT_EQ(end.tokens_out, kTokens) << "burst" << i + 1;
    EXPECT_EQ(rest[i]->n_tokens, kTokens) << "burst" << i + 1;
  }
  engine.wait_idle();
  EXPECT_EQ(engine.stats().queue_length, 0);
  EXPECT_EQ(engine.stats().running_sequences, 0);
}

TEST_F(BatchEngineAdmissionTest, CancelledQueuedJobsLeaveTheFullCapacityForTheNextBurst) {
  constexpr int kLong = 900;  // cancelled long before its end
  BatchEngine engine(*runtime_, options());
  {
    auto first = std::make_shared<GateSink>(2);
    ReleaseOnExit release{first};
    ASSERT_EQ(engine.submit(request("long0", kLong), first).admission, Admission::accepted);
    ASSERT_TRUE(first->wait_held());
    auto rest = fill_while_held(engine, "long", kLong);
    ASSERT_EQ(rest.size(), static_cast<size_t>(kCapacity - 1));
    // Cancelled before the scheduler ever saw them: dropped at the next step boundary, never admitted.
    EXPECT_TRUE(engine.cancel("long6"));
    EXPECT_TRUE(engine.cancel("long7"));
    first->release();
    // long1..long3 take the free slots; long4 and long5 wait for one, and are cancelled there.
    rest[2]->wait_tokens(2);  // a step after its admission: the stats are those of that step
    EXPECT_EQ(engine.stats().running_sequences, kMaxSeqs);
    EXPECT_EQ(engine.stats().queue_length, 2);
    EXPECT_TRUE(engine.cancel("long4"));
    EXPECT_TRUE(engine.cancel("long5"));
    for (int i = 3; i < 6; ++i) {
      const FinalResult end = rest[i]->wait_end();
      EXPECT_EQ(end.reason, FinishReason::cancelled) << "long" << i + 1;
      EXPECT_EQ(end.tokens_out, 0) << "long" << i + 1;
    }
    for (const char* id : {"long0", "long1", "long2", "long3"}) EXPECT_TRUE(engine.cancel(id));
    EXPECT_EQ(first->wait_end().reason, FinishReason::cancelled);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(rest[i]->wait_end().reason, FinishReason::cancelled);
    engine.wait_idle();
  }
  EXPECT_EQ(engine.stats().queue_length, 0);
  EXPECT_EQ(engine.stats().running_sequences, 0);
  EXPECT_DOUBLE_EQ(engine.stats().kv_cache_usage_ratio, 0.0);

  // Exactly the full capacity again: no place leaked (more refusals) nor given back twice (no refusal).
  constexpr int kTokens = 6;
  auto first = std::make_shared<GateSink>(2);
  ReleaseOnExit release{first};
  ASSERT_EQ(engine.submit(request("again0", kTokens), first).admission, Admission::accepted);
  ASSERT_TRUE(first->wait_held());
  auto rest = fill_while_held(engine, "again", kTokens);
  ASSERT_EQ(rest.size(), static_cast<size_t>(kCapacity - 1));
  first->release();
  EXPECT_EQ(first->wait_end().tokens_out, kTokens);
  for (auto& s : rest) EXPECT_EQ(s->wait_end().tokens_out, kTokens);
  engine.wait_idle();
  EXPECT_EQ(engine.stats().queue_length, 0);
}

TEST_F(BatchEngineAdmissionTest, WithNoQueueEverySequenceSlotIsStillUsable) {
  constexpr int kTokens = 6;
  BatchEngineOptions opts;
  opts.max_seqs = 2;
  opts.max_queue = 0;
  opts.events_thread = false;
  BatchEngine engine(*runtime_, opts);
  auto first = std::make_shared<GateSink>(2);
  ReleaseOnExit release{first};
  ASSERT_EQ(engine.submit(request("a", kTokens), first).admission, Admission::accepted);
  ASSERT_TRUE(first->wait_held());
  auto second = std::make_shared<GateSink>(0);
  ASSERT_EQ(engine.submit(request("b", kTokens), second).admission, Admission::accepted);
  EXPECT_EQ(engine.submit(request("c", kTokens), std::make_shared<GateSink>(0)).admission, Admission::overloaded);
  first->release();
  EXPECT_EQ(first->wait_end().tokens_out, kTokens);
  EXPECT_EQ(second->wait_end().tokens_out, kTokens);
  engine.wait_idle();
}

}  // namespace
}  // namespace rbees::engine
