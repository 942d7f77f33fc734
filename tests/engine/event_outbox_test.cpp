// The event outbox with no engine: each sink hears its events in the order they were posted, the
// poster does not wait for a slow sink, wait_drained waits for what was handed over, a sink that
// throws is marked failed while the others are still served, and without a thread of its own the
// outbox delivers at once.
#include "engine/event_outbox.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace rbees::engine {
namespace {

// Records what it hears and on which thread; on_token can be held until released, or throw.
class RecordingSink : public Sink {
 public:
  void on_token(const TokenEvent& e) override {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !held_; });
    if (throws_) throw std::runtime_error("client write failed");
    seen.push_back("token " + std::to_string(e.id) + " " + e.text);
    thread = std::this_thread::get_id();
  }
  void on_prompt_logprobs(std::span<const PromptTokenLogprob> t) override {
    std::lock_guard lk(mu_);
    seen.push_back("prompt " + std::to_string(t.size()));
  }
  void on_finish(const FinalResult& r) override {
    std::lock_guard lk(mu_);
    seen.push_back("end " + std::to_string(r.tokens_out));
  }
  bool client_gone() const override { return false; }

  void hold(bool on) {
    {
      std::lock_guard lk(mu_);
      held_ = on;
    }
    cv_.notify_all();
  }
  void throw_on_tokens() { throws_ = true; }
  std::vector<std::string> heard() {
    std::lock_guard lk(mu_);
    return seen;
  }
  std::thread::id thread;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  std::atomic<bool> throws_ = false;
  std::vector<std::string> seen;
};

TokenEvent token(int32_t id, const std::string& text) {
  TokenEvent e;
  e.id = id;
  e.text = text;
  return e;
}

FinalResult end_of(int tokens) {
  FinalResult r;
  r.tokens_out = tokens;
  return r;
}

std::shared_ptr<SinkStatus> status_of(const std::string& job_id) {
  auto s = std::make_shared<SinkStatus>();
  s->job_id = job_id;
  return s;
}

TEST(EventOutbox, EachSinkHearsItsEventsInOrderAcrossFlushesOnTheOutboxsThread) {
  EventOutbox out(true);
  ASSERT_TRUE(out.own_thread());
  auto a = std::make_shared<RecordingSink>(), b = std::make_shared<RecordingSink>();
  auto fa = status_of("a"), fb = status_of("b");
  out.post(a, fa, std::vector<PromptTokenLogprob>(3));
  for (int step = 0; step < 50; ++step) {
    out.post(a, fa, token(step, "x"));
    out.post(b, fb, token(100 + step, "y"));
    out.flush();
  }
  out.post(a, fa, end_of(50));
  out.post(b, fb, end_of(50));
  out.flush();
  out.wait_drained();
  std::vector<std::string> want_a{"prompt 3"}, want_b;
  for (int step = 0; step < 50; ++step) {
    want_a.push_back("token " + std::to_string(step) + " x");
    want_b.push_back("token " + std::to_string(100 + step) + " y");
  }
  want_a.emplace_back("end 50");
  want_b.emplace_back("end 50");
  EXPECT_EQ(a->heard(), want_a);
  EXPECT_EQ(b->heard(), want_b);
  EXPECT_NE(a->thread, std::this_thread::get_id());
  EXPECT_FALSE(fa->failed.load());
}

TEST(EventOutbox, ThePosterDoesNotWaitForASlowSinkAndWaitDrainedDoes) {
  EventOutbox out(true);
  auto slow = std::make_shared<RecordingSink>();
  slow->hold(true);
  auto f = status_of("f");
  // Posting and handing over return while the sink is held inside its first event.
  for (int step = 0; step < 5; ++step) {
    out.post(slow, f, token(step, ""));
    out.flush();
  }
  // Nothing posted after the last flush is delivered by it: posted events wait for the next one.
  out.post(slow, f, end_of(5));
  std::atomic<bool> drained = false;
  std::thread waiter([&] {
    out.wait_drained();
    drained = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(drained.load());
  EXPECT_TRUE(slow->heard().empty());
  slow->hold(false);
  waiter.join();
  EXPECT_EQ(slow->heard().size(), 5u);  // the end was not handed over
  out.flush();
  out.wait_drained();
  ASSERT_EQ(slow->heard().size(), 6u);
  EXPECT_EQ(slow->heard().back(), "end 5");
}

TEST(EventOutbox, ASinkThatThrowsIsMarkedFailedAndTheOthersAreStillServed) {
  EventOutbox out(true);
  auto bad = std::make_shared<RecordingSink>(), good = std::make_shared<RecordingSink>();
  bad->throw_on_tokens();
  auto fbad = status_of("bad"), fgood = status_of("good");
  out.post(bad, fbad, token(1, "a"));
  out.post(good, fgood, token(2, "b"));
  out.post(bad, fbad, end_of(1));
  out.flush();
  out.wait_drained();
  EXPECT_TRUE(fbad->failed.load());
  EXPECT_FALSE(fgood->failed.load());
  EXPECT_EQ(good->heard(), std::vector<std::string>{"token 2 b"});
  EXPECT_EQ(bad->heard(), std::vector<std::string>{"end 1"});  // its end still reaches it
}

TEST(EventOutbox, WithoutAThreadEveryPostIsDeliveredAtOnce) {
  EventOutbox out(false);
  EXPECT_FALSE(out.own_thread());
  auto a = std::make_shared<RecordingSink>(), bad = std::make_shared<RecordingSink>();
  bad->throw_on_tokens();
  auto fa = status_of("a"), fbad = status_of("bad");
  out.post(a, fa, token(7, "z"));
  EXPECT_EQ(a->heard(), std::vector<std::string>{"token 7 z"});
  EXPECT_EQ(a->thread, std::this_thread::get_id());
  out.post(bad, fbad, token(8, "w"));
  EXPECT_TRUE(fbad->failed.load());
  out.wait_drained();  // returns at once
}

TEST(EventOutbox, DestroyingItDeliversEverythingPosted) {
  auto a = std::make_shared<RecordingSink>();
  {
    EventOutbox out(true);
    auto f = status_of("f");
    out.post(a, f, token(1, ""));
    out.flush();
    out.post(a, f, end_of(1));  // posted, never flushed
  }
  EXPECT_EQ(a->heard(), (std::vector<std::string>{"token 1 ", "end 1"}));
}

}  // namespace
}  // namespace rbees::engine
