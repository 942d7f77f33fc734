// Steps whose every sampler is plain greedy let the model's graph pick the tokens
// (BatchEngineOptions::greedy_on_device); the completions must be those of the host's pick, alone and
// in batches that mix greedy sequences with sampled ones and with ones that ask for log-probabilities.
#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/batch_engine.hpp"
#include "engine/test_runtime.hpp"

namespace rbees::engine {
namespace {

struct Tokens : Sink {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int32_t> ids;
  std::optional<FinalResult> end;
  void on_token(const TokenEvent& ev) override {
    std::lock_guard lk(mu);
    ids.push_back(ev.id);
  }
  void on_finish(const FinalResult& r) override {
    std::lock_guard lk(mu);
    end = r;
    cv.notify_all();
  }
  bool client_gone() const override { return false; }
  std::vector<int32_t> wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return end.has_value(); });
    return ids;
  }
};

std::vector<Request> workload() {
  const std::vector<std::string> prompts = test_support::book_prompts();
  std::vector<Request> reqs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Request r;
    r.job_id = "job" + std::to_string(i);
    r.prompt = TextPrompt{prompts[i], true};
    r.sampling.temperature = 0.0f;
    r.max_tokens = 8 + static_cast<int>(i) * 4;
    r.ignore_eos = true;
    reqs.push_back(r);
  }
  reqs[3].sampling.temperature = 0.9f;  // sampled: steps it samples in take the logits path
  reqs[3].sampling.seed = 31;
  reqs[5].logprobs = 2;                        // greedy, but its log-probabilities need the logits
  reqs[6].sampling.repetition_penalty = 1.3f;  // greedy over adjusted logits: the host's pick
  return reqs;
}

// Each request's tokens, run one at a time (max_seqs 1) or all at once.
std::vector<std::vector<int32_t>> run(ModelRuntime& rt, const std::vector<Request>& reqs, bool on_device,
                                      bool together) {
  BatchEngineOptions o;
  o.ctx_size = 1024;
  o.max_seqs = together ? static_cast<int>(reqs.size()) : 1;
  o.prefill_chunk = 16;
  o.greedy_on_device = on_device;
  BatchEngine engine(rt, o);
  std::vector<std::shared_ptr<Tokens>> sinks;
  std::vector<std::vector<int32_t>> out;
  for (const auto& r : reqs) {
    sinks.push_back(std::make_shared<Tokens>());
    EXPECT_EQ(engine.submit(r, sinks.back()).admission, Admission::accepted) << r.job_id;
    if (!together) out.push_back(sinks.back()->wait());
  }
  if (together) {
    for (auto& s : sinks) out.push_back(s->wait());
  }
  return out;
}

TEST(BatchEngineGreedy, PicksOnTheDeviceGiveTheHostsCompletionsAloneAndInMixedBatches) {
  auto rt = test_support::load_test_runtime();
  const auto reqs = workload();
  const auto host_alone = run(*rt, reqs, false, false);
  const auto device_alone = run(*rt, reqs, true, false);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(host_alone[i].size(), static_cast<size_t>(*reqs[i].max_tokens)) << reqs[i].job_id;
    EXPECT_EQ(device_alone[i], host_alone[i]) << reqs[i].job_id;
  }
  // Outside --batch-invariant a batched row may round differently from the row alone (llamafile's
  // products and the attention op depend on the batch; see batch_engine_test.cpp), so exact equality
  // in a mixed batch is checked in that mode, which is the CPU's; elsewhere whole completions only.
  if (test_support::test_device() == "cpu") {
    auto inv = test_support::load_test_runtime(true);
    const auto inv_alone = run(*inv, reqs, false, false);
    const auto inv_together = run(*inv, reqs, true, true);
    for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(inv_together[i], inv_alone[i]) << reqs[i].job_id;
  } else {
    const auto device_together = run(*rt, reqs, true, true);
    for (size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_EQ(device_together[i].size(), host_alone[i].size()) << reqs[i].job_id;
    }
  }
}

// --profile-ops: every step's pass is timed op by op, and the requests still run to their ends.
TEST(BatchEngineProfile, EveryStepIsTimedOpByOp) {
  auto rt = test_support::load_test_runtime();
  auto reqs = workload();
  reqs.resize(3);
  BatchEngineOptions o;
  o.ctx_size = 1024;
  o.max_seqs = 3;
  o.prefill_chunk = 16;
  o.profile_ops = true;
  BatchEngine engine(*rt, o);
  std::vector<std::shared_ptr<Tokens>> sinks;
  for (const auto& r : reqs) {
    sinks.push_back(std::make_shared<Tokens>());
    ASSERT_EQ(engine.submit(r, sinks.back()).admission, Admission::accepted);
  }
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(sinks[i]->wait().size(), static_cast<size_t>(*reqs[i].max_tokens));
  engine.shutdown();
  const model::OpProfile& p = engine.op_profile();
  EXPECT_EQ(p.passes, engine.detailed_stats().steps);
  ASSERT_FALSE(p.by_op.empty());
  uint64_t products = 0;
  for (const auto& [op, e] : p.by_op) {
    EXPECT_GT(e.count, 0u) << op;
    EXPECT_GE(e.ms, 0.0) << op;
    if (op.rfind("MUL_MAT", 0) == 0) products += e.count;
  }
  // Seven weight products per layer and pass at least (q, k, v, o, gate, up, down).
  EXPECT_GE(products, p.passes * 7);
}

}  // namespace
}  // namespace rbees::engine
