// Overlapped steps (BatchEngineOptions::overlap_steps): a step is launched before the step ahead of
// it has been turned into tokens and events, its pending tokens filled in from that step's device
// picks or drawn from its logits rows. Every request must end exactly as with the steps one after
// another: the same tokens, log-probabilities, text, finish reasons and counts, through stop
// strings, end-of-sequence tokens, token budgets, sampled and log-probability requests in the same
// batches, preemptions and cancels.
// The comparisons run in --batch-invariant mode, where a row's result does not depend on the batch
// (an overlapped run computes a dropped row for a request that stopped on the step before).
#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/batch_engine.hpp"
#include "engine/test_runtime.hpp"

namespace rbees::engine {
namespace {

struct Recorder : Sink {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int32_t> ids;
  std::vector<float> logprobs;  // the chosen token's, then its alternatives', per token
  std::string text;
  std::optional<FinalResult> end;
  void on_token(const TokenEvent& ev) override {
    std::lock_guard lk(mu);
    ids.push_back(ev.id);
    logprobs.push_back(ev.logprob);
    for (const auto& t : ev.top_logprobs) logprobs.push_back(t.logprob);
    text += ev.text;
  }
  void on_finish(const FinalResult& r) override {
    std::lock_guard lk(mu);
    end = r;
    cv.notify_all();
  }
  bool client_gone() const override { return false; }
  void wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return end.has_value(); });
  }
};

struct Ending {
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
  std::string text;
  FinishReason reason = FinishReason::none;
  std::optional<std::string> stop;
  int tokens_out = 0;
  bool operator==(const Ending&) const = default;
};

std::vector<Request> workload() {
  std::vector<std::string> prompts = test_support::book_prompts();
  prompts.insert(prompts.end(), {"Andrew looked at the sky", "Moscow"});
  std::vector<Request> reqs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Request r;
    r.job_id = "job" + std::to_string(i);
    r.prompt = TextPrompt{prompts[i], true};
    r.sampling.temperature = 0.0f;
    r.max_tokens = 6 + static_cast<int>(i) * 5;
    r.ignore_eos = i % 3 != 0;  // some may end on the model's end-of-sequence token
    reqs.push_back(r);
  }
  reqs[3].sampling.temperature = 0.9f;  // sampled: its steps' rows come back as logits
  reqs[3].sampling.seed = 31;
  reqs[5].logprobs = 2;  // greedy, but its log-probabilities need the logits
  return reqs;
}

struct StepCount {
  uint64_t ahead = 0, all = 0;
};

std::vector<Ending> run(ModelRuntime& rt, const std::vector<Request>& reqs, bool overlap, int ctx_size, int max_seqs,
                        uint64_t* preemptions = nullptr, StepCount* steps = nullptr) {
  SCOPED_TRACE(overlap ? "overlapped" : "one after another");
  BatchEngineOptions o;
  o.ctx_size = ctx_size;
  // A cache too small for every continuation: without homes over several slots, sequences grow
  // block by block and the latest admitted are preempted when none is left.
  if (preemptions != nullptr) o.home_span_tokens = 0;
  o.max_seqs = max_seqs;
  o.max_queue = static_cast<int>(reqs.size());
  o.prefill_chunk = 16;
  o.greedy_on_device = true;
  o.overlap_steps = overlap;
  o.sampling_helpers = 3;  // the draws from a step's logits rows are shared with three threads
  BatchEngine engine(rt, o);
  std::vector<std::shared_ptr<Recorder>> sinks;
  for (const auto& r : reqs) {
    sinks.push_back(std::make_shared<Recorder>());
    EXPECT_EQ(engine.submit(r, sinks.back()).admission, Admission::accepted) << r.job_id;
  }
  std::vector<Ending> out;
  for (auto& s : sinks) {
    s->wait();
    out.push_back({s->ids, s->logprobs, s->text + s->end->trailing_text, s->end->reason, s->end->stop_sequence,
                   s->end->tokens_out});
  }
  engine.wait_idle();
  const BatchEngineStats st = engine.detailed_stats();
  if (preemptions != nullptr) *preemptions = st.preemptions;
  if (steps != nullptr) *steps = {st.steps_ahead, st.steps};
  if (overlap) {
    EXPECT_GT(st.steps_ahead, 0u);
  } else {
    EXPECT_EQ(st.steps_ahead, 0u);
  }
  return out;
}

// Stop strings taken from each greedy (or, with `sampled`, seeded) request's own continuation, so
// that they match mid-way.
std::vector<Request> with_stops(std::vector<Request> reqs, const std::vector<Ending>& plain, bool sampled = false) {
  for (size_t i = 0; i < reqs.size(); i += 2) {
    const std::string& t = plain[i].text;
    const bool same_again = reqs[i].sampling.temperature == 0.0f || (sampled && reqs[i].sampling.seed);
    if (same_again && t.size() > 12) reqs[i].stop = {t.substr(t.size() / 2, 3)};
  }
  return reqs;
}

// The requests with their stop strings end the same either way, at least 3 of them on a stop string.
void expect_same_stops(ModelRuntime& rt, const std::vector<Request>& stopping) {
  const auto plain_stops = run(rt, stopping, false, 2048, 6);
  const auto overlapped_stops = run(rt, stopping, true, 2048, 6);
  int stopped = 0;
  for (size_t i = 0; i < stopping.size(); ++i) {
    EXPECT_EQ(overlapped_stops[i], plain_stops[i]) << stopping[i].job_id;
    stopped += plain_stops[i].reason == FinishReason::stop_sequence ? 1 : 0;
  }
  EXPECT_GE(stopped, 3);
}

TEST(OverlappedSteps, EndEveryRequestAsStepsOneAfterAnother) {
  auto rt = test_support::load_test_runtime(true);
  const auto reqs = workload();
  const auto plain = run(*rt, reqs, false, 2048, 6);
  const auto overlapped = run(*rt, reqs, true, 2048, 6);
  ASSERT_EQ(overlapped.size(), plain.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(overlapped[i], plain[i]) << reqs[i].job_id;
    EXPECT_GT(plain[i].tokens_out, 0) << reqs[i].job_id;
  }
  // The same with stop strings that end requests in the middle of their budgets.
  expect_same_stops(*rt, with_stops(reqs, plain));
}

// Sampled requests (temperatures, top-k/top-p/min-p, penalties, log-probabilities, logit bias)
// run ahead too: each row's token is drawn from the logits of the step in flight by the request's
// own sampler before the next step is launched. Seeded, they draw what they draw one step after
// another, whichever path a step takes (device picks, logits rows, or not ahead).
TEST(OverlappedSteps, SampledRequestsRunAheadAndDrawTheSameTokens) {
  auto rt = test_support::load_test_runtime(true);
  std::vector<Request> reqs = workload();
  for (size_t i = 0; i < reqs.size(); ++i) {
    Request& r = reqs[i];
    r.max_tokens = 24 + static_cast<int>(i) * 3;
    r.ignore_eos = i % 4 != 0;
    r.logprobs.reset();
    if (i % 5 == 4) continue;  // a few greedy ones among them
    r.sampling.temperature = 0.6f + 0.1f * static_cast<float>(i % 4);
    r.sampling.seed = 100 + i;
    if (i % 3 == 0) r.sampling.top_p = 0.9f;
    if (i % 3 == 1) r.sampling.top_k = 20;
    if (i % 3 == 2) r.sampling.min_p = 0.05f;
    if (i == 1) r.sampling.repetition_penalty = 1.3f;
    if (i == 2 || i == 7) r.sampling.frequency_penalty = 1.5f;  // counts each token taken: once, not twice
    if (i == 6) r.sampling.logit_bias = {{13, 2.0f}};
    if (i % 4 == 1) r.logprobs = 3;
  }
  StepCount counted;
  const auto plain = run(*rt, reqs, false, 2048, 6);
  const auto overlapped = run(*rt, reqs, true, 2048, 6, nullptr, &counted);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(overlapped[i], plain[i]) << reqs[i].job_id;
    EXPECT_GT(plain[i].tokens_out, 0) << reqs[i].job_id;
    if (reqs[i].logprobs) EXPECT_EQ(plain[i].logprobs.size(), plain[i].ids.size() * 4) << reqs[i].job_id;
  }
  // No step has a constrained row or a prompt's every-row logits: almost all ran ahead.
  EXPECT_GT(counted.ahead * 10, counted.all * 8) << counted.ahead << " of " << counted.all;
  // Stop strings from the sampled continuations end them part-way, on tokens drawn ahead.
  expect_same_stops(*rt, with_stops(reqs, plain, true));
}

// Grammar-constrained requests (JSON objects, greedy and sampled) run ahead as well: each one's
// mask for its pending token is computed while the device computes the step, and its token is
// drawn under that mask from the step's logits row before the next step is launched. They end as
// one step after another, where a greedy one's token is the device's masked pick.
TEST(OverlappedSteps, ConstrainedRequestsRunAheadUnderTheirGrammars) {
  auto rt = test_support::load_test_runtime(true);
  std::vector<Request> reqs = workload();
  for (size_t i = 0; i < reqs.size(); ++i) {
    Request& r = reqs[i];
    r.max_tokens = 30 + static_cast<int>(i) * 4;
    r.ignore_eos = false;
    r.logprobs.reset();
    r.sampling = {};
    r.sampling.temperature = i % 3 == 2 ? 0.7f : 0.0f;
    r.sampling.seed = 40 + i;
    if (i % 2 == 0) {
      r.grammar = grammar::GrammarSpec{grammar::GrammarKind::kJsonObject, ""};
      r.grammar_field = "response_format";
    }
  }
  StepCount counted;
  const auto plain = run(*rt, reqs, false, 2048, 6);
  const auto overlapped = run(*rt, reqs, true, 2048, 6, nullptr, &counted);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(overlapped[i], plain[i]) << reqs[i].job_id;
    // A JSON object starts (the small model rarely closes one within the budget).
    if (reqs[i].grammar) EXPECT_EQ(plain[i].text.substr(0, 1), "{") << reqs[i].job_id << ": " << plain[i].text;
  }
  EXPECT_GT(counted.ahead * 10, counted.all * 8) << counted.ahead << " of " << counted.all;
}

TEST(OverlappedSteps, SurvivePreemptionsForKvSpace) {
  auto rt = test_support::load_test_runtime(true);
  std::vector<Request> reqs = workload();
  reqs.resize(6);
  for (auto& r : reqs) {
    r.max_tokens = 40;
    r.ignore_eos = true;
    r.sampling.temperature = 0.0f;  // every row greedy: every step may run ahead
    r.logprobs.reset();
  }
  uint64_t preempted_plain = 0, preempted_overlapped = 0;
  const auto plain = run(*rt, reqs, false, 160, 4, &preempted_plain);
  const auto overlapped = run(*rt, reqs, true, 160, 4, &preempted_overlapped);
  EXPECT_GT(preempted_overlapped, 0u);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(overlapped[i], plain[i]) << reqs[i].job_id;
    EXPECT_EQ(overlapped[i].tokens_out, 40) << reqs[i].job_id;
  }
  // Requests that stop part-way, some of them while preempted with a token in flight.
  const auto stopping = with_stops(reqs, plain);
  const auto plain_stops = run(*rt, stopping, false, 160, 4, &preempted_plain);
  const auto overlapped_stops = run(*rt, stopping, true, 160, 4, &preempted_overlapped);
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(overlapped_stops[i], plain_stops[i]) << stopping[i].job_id;
}

TEST(OverlappedSteps, CancelledRequestsEndAndTheOthersAreUntouched) {
  auto rt = test_support::load_test_runtime(true);
  std::vector<Request> reqs = workload();
  for (auto& r : reqs) {
    r.max_tokens = 48;
    r.ignore_eos = true;
    r.sampling.temperature = 0.0f;
    r.logprobs.reset();
  }
  const auto plain = run(*rt, reqs, false, 2048, 10);
  BatchEngineOptions o;
  o.ctx_size = 2048;
  o.max_seqs = 10;
  o.prefill_chunk = 16;
  o.greedy_on_device = true;
  o.overlap_steps = true;
  BatchEngine engine(*rt, o);
  std::vector<std::shared_ptr<Recorder>> sinks;
  for (const auto& r : reqs) {
    sinks.push_back(std::make_shared<Recorder>());
    ASSERT_EQ(engine.submit(r, sinks.back()).admission, Admission::accepted);
  }
  // Cancelled once a few tokens are out, so with steps in flight.
  for (size_t i : {1u, 4u, 7u}) {
    for (;;) {
      {
        std::lock_guard lk(sinks[i]->mu);
        if (sinks[i]->ids.size() >= 3 || sinks[i]->end) break;
      }
      std::this_thread::yield();
    }
    EXPECT_TRUE(engine.cancel(reqs[i].job_id));
  }
  for (size_t i = 0; i < reqs.size(); ++i) {
    sinks[i]->wait();
    const bool cancelled = i == 1 || i == 4 || i == 7;
    if (cancelled) {
      EXPECT_EQ(sinks[i]->end->reason, FinishReason::cancelled) << reqs[i].job_id;
      EXPECT_LT(sinks[i]->ids.size(), 48u);
      // What it got before the cancel is the start of its own completion.
      EXPECT_EQ(sinks[i]->ids, std::vector<int32_t>(plain[i].ids.begin(),
                                                    plain[i].ids.begin() + static_cast<long>(sinks[i]->ids.size())));
    } else {
      EXPECT_EQ(sinks[i]->ids, plain[i].ids) << reqs[i].job_id;
    }
    EXPECT_EQ(sinks[i]->end->tokens_out, static_cast<int>(sinks[i]->ids.size())) << reqs[i].job_id;
  }
  engine.wait_idle();
  // Greedy rows only: almost every step ran ahead of the one before.
  const BatchEngineStats st = engine.detailed_stats();
  EXPECT_GT(st.steps_ahead * 10, st.steps * 8) << st.steps_ahead << " of " << st.steps;
  // The engine goes on serving.
  auto after = std::make_shared<Recorder>();
  ASSERT_EQ(engine.submit(reqs[0], after).admission, Admission::accepted);
  after->wait();
  EXPECT_EQ(after->ids, plain[0].ids);
}

}  // namespace
}  // namespace rbees::engine
