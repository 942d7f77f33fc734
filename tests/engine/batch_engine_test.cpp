#include "engine/batch_engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/generator.hpp"
#include "engine/model_runtime.hpp"
#include "engine/test_runtime.hpp"

namespace rbees::engine {
namespace {

// Batched output against the single-request continuation. Outside the --batch-invariant mode a
// batched row may round differently from the row alone: on the CPU llamafile's kernels take products
// of two or more columns and attention sums per path, and GPU kernels are chosen by batch width
// (ggml-cuda multiplies 1 column, 2-16 columns and more with different kernels). So the two may part
// only where the single-request run had a near tie (top two log-probabilities within kNearTie), the
// batched run taking the runner-up, and are not compared after that; the invariant mode's own tests
// require identical tokens. The default model's F32 weights go through TF32 kernels in batched GPU
// products (about 1e-3 relative on logits of magnitude ~10), hence a tie band of 0.1.
constexpr float kNearTie = 0.1f;
void expect_continuation(const std::vector<int32_t>& got, const std::vector<int32_t>& want,
                         const std::vector<std::vector<sampling::TokenLogprob>>& want_tops, const std::string& what) {
  if (got == want) return;
  ASSERT_EQ(want_tops.size(), want.size()) << what;
  size_t k = 0;
  while (k < got.size() && k < want.size() && got[k] == want[k]) ++k;
  ASSERT_LT(k, want.size()) << what << ": batched output is longer than the reference";
  ASSERT_LT(k, got.size()) << what << ": batched output stops early";
  ASSERT_GE(want_tops[k].size(), 2u) << what;
  const float margin = want_tops[k][0].logprob - want_tops[k][1].logprob;
  EXPECT_LT(margin, kNearTie) << what << ": parted at token " << k << " where the reference was no tie";
  EXPECT_EQ(got[k], want_tops[k][1].id) << what << ": parted at token " << k << " for a token not the runner-up";
  std::printf("[ near tie ] %s parted at token %zu (margin %.4f)\n", what.c_str(), k, margin);
}

nlohmann::json reference() {
  std::ifstream f(std::string(RBEES_SOURCE_DIR) + "/tests/data/wp-llama-5m.ref-given.json");
  return nlohmann::json::parse(f);
}

// Collects one job's output.
struct Collector : Sink {
  std::mutex mu;
  std::condition_variable cv;
  std::string text;
  std::vector<int32_t> tokens;
  std::vector<std::vector<sampling::TokenLogprob>> tops;  // per token, when logprobs were asked for
  int n_token_events = 0;
  std::optional<FinalResult> end;
  bool disconnect_after_first = false;
  int throw_after = -1;  // >= 0: on_token throws once this many tokens were heard

  void on_token(const TokenEvent& ev) override {
    std::lock_guard lk(mu);
    if (throw_after >= 0 && n_token_events >= throw_after) throw std::runtime_error("client write failed");
    text += ev.text;
    tokens.push_back(ev.id);
    tops.push_back(ev.top_logprobs);
    ++n_token_events;
    cv.notify_all();
  }
  void on_finish(const FinalResult& r) override {
    std::lock_guard lk(mu);
    text += r.trailing_text;
    end = r;
    cv.notify_all();
  }
  bool client_gone() const override {
    std::lock_guard lk(const_cast<std::mutex&>(mu));
    return disconnect_after_first && n_token_events >= 1;
  }
  FinalResult wait_end() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return end.has_value(); });
    return *end;
  }
  void wait_tokens(int n) {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return n_token_events >= n || end.has_value(); });
  }
};

std::shared_ptr<Collector> collector() {
  return std::make_shared<Collector>();
}

// Submits every request at once; `out` gets each one's collector, in order. Call it under
// ASSERT_NO_FATAL_FAILURE: a refused request would never end.
void submit_all(BatchEngine& engine, const std::vector<Request>& reqs, std::vector<std::shared_ptr<Collector>>& out) {
  for (const auto& r : reqs) {
    out.push_back(collector());
    ASSERT_TRUE(engine.submit(r, out.back()).admission == Admission::accepted) << r.job_id;
  }
}

// A prompt of several KV blocks (the first reference case, continued).
std::string long_prompt() {
  return reference()["cases"][0]["prompt"].get<std::string>() +
         " of the Buonapartes. But I warn you, if you don't tell me that this means war, if you "
         "still try to defend the infamies and horrors perpetrated by that Antichrist";
}

Request greedy(const std::string& id, const std::string& prompt, std::optional<int> max_tokens) {
  Request r;
  r.job_id = id;
  r.prompt = TextPrompt{prompt, true};
  r.sampling.temperature = 0.0f;
  r.max_tokens = max_tokens;
  return r;
}

class BatchEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { runtime_ = test_support::load_test_runtime().release(); }
  static void TearDownTestSuite() {
    delete runtime_;
    runtime_ = nullptr;
  }
  // The single-request continuation, through the one-sequence path.
  static std::vector<int32_t> single(const Request& r) {
    Generator gen(*runtime_);
    GenerationRequest g;
    g.prompt = runtime_->tokenizer().encode(std::get<TextPrompt>(r.prompt).text, true);
    g.sampling = r.sampling;
    g.max_tokens = r.max_tokens;
    g.ignore_eos = r.ignore_eos;
    return gen.generate(g, nullptr).tokens;
  }
  // The top two log-probabilities at each step of the request run alone (one sequence per step).
  static std::vector<std::vector<sampling::TokenLogprob>> alone_tops(Request r) {
    BatchEngineOptions opts;
    opts.ctx_size = 512;
    opts.max_seqs = 1;
    BatchEngine engine(*runtime_, opts);
    r.logprobs = 2;
    auto c = collector();
    EXPECT_TRUE(engine.submit(r, c).admission == Admission::accepted);
    c->wait_end();
    return c->tops;
  }
  static ModelRuntime* runtime_;
};
ModelRuntime* BatchEngineTest::runtime_ = nullptr;

TEST_F(BatchEngineTest, SixteenConcurrentGreedyRequestsMatchTheirSingleRequestContinuations) {
  const auto ref = reference();
  std::vector<Request> reqs;
  for (size_t i = 0; i < ref["cases"].size(); ++i) {
    reqs.push_back(greedy("ref" + std::to_string(i), ref["cases"][i]["prompt"], 48));
  }
  const std::vector<std::string> more = {
      "Pierre",
      "The Emperor Napoleon rode along the line of the army",
      "Natasha ran into the drawing room, and the old countess",
      "It was a cold winter morning in Moscow when the news came that",
      "Prince Vasili",
      "\"Mon cher,\" said Anna Pavlovna, \"you are",
      "The battle of Borodino",
      "Nicholas Rostov galloped towards the French, and his horse",
      "She",
      "War and Peace, by Leo Tolstoy. Book One. Chapter I. Well, Prince, so Genoa and Lucca are now just family "
      "estates of the Buonapartes. But I warn you, if you don't tell me that this means war",
      "Kutuzov"};
  for (size_t i = 0; i < more.size(); ++i) {
    reqs.push_back(greedy("more" + std::to_string(i), more[i], 6 + static_cast<int>(i) * 5));
  }
  ASSERT_EQ(reqs.size(), 16u);
  std::vector<std::vector<int32_t>> want;  // computed first: the model runs one pass at a time
  std::vector<std::vector<std::vector<sampling::TokenLogprob>>> want_tops;
  for (const auto& r : reqs) {
    want.push_back(single(r));
    want_tops.push_back(alone_tops(r));
  }

  BatchEngineOptions opts;
  opts.ctx_size = 2048;
  opts.max_seqs = 16;
  opts.prefill_chunk = 24;  // prompts are split over several steps, beside running decodes
  BatchEngine engine(*runtime_, opts);
  std::vector<std::shared_ptr<Collector>> out;
  ASSERT_NO_FATAL_FAILURE(submit_all(engine, reqs, out));
  for (size_t i = 0; i < reqs.size(); ++i) {
    const FinalResult end = out[i]->wait_end();
    expect_continuation(out[i]->tokens, want[i], want_tops[i], reqs[i].job_id);
    EXPECT_EQ(end.tokens_out, static_cast<int>(want[i].size()));
    if (i < ref["cases"].size() && out[i]->tokens == want[i]) {
      EXPECT_EQ(out[i]->text, ref["cases"][i]["greedy_text"].get<std::string>());
      EXPECT_EQ(end.reason, FinishReason::max_tokens);
    }
  }
  engine.wait_idle();
  EXPECT_EQ(engine.stats().running_sequences, 0);
  EXPECT_GT(engine.detailed_stats().steps, 48u);
}

TEST_F(BatchEngineTest, PrefixCacheReusesAFinishedRequestsBlocks) {
  const std::string base = long_prompt();
  const auto req =
      greedy("b", base + " - I really believe he is Antichrist - I will have nothing more to do with you", 24);
  const auto want = single(req);
  BatchEngineOptions opts;
  opts.ctx_size = 1024;
  opts.max_seqs = 4;
  opts.block_size = 16;
  BatchEngine engine(*runtime_, opts);

  auto first = collector();
  ASSERT_TRUE(engine.submit(greedy("a", base, 8), first).admission == Admission::accepted);
  first->wait_end();
  engine.wait_idle();
  EXPECT_EQ(engine.detailed_stats().prefix_cache_hit_tokens, 0u);

  const int n_base = static_cast<int>(runtime_->tokenizer().encode(base, true).size());
  auto second = collector();
  ASSERT_TRUE(engine.submit(req, second).admission == Admission::accepted);
  const FinalResult end = second->wait_end();
  engine.wait_idle();
  const uint64_t hits = engine.detailed_stats().prefix_cache_hit_tokens;
  // Every full block of the first prompt (and of its generated tokens that the second shares) is reused.
  EXPECT_GE(hits, static_cast<uint64_t>(n_base / 16 * 16));
  EXPECT_EQ(static_cast<uint64_t>(end.cached_prompt_tokens), hits);
  EXPECT_EQ(second->tokens, want);
}

// A prompt sent again reuses every token but its last, also where it ends inside a block (shorter
// than one, or a block and a part): the part is copied from the cached block. The batch-invariant
// model makes the continuations comparable token for token.
TEST_F(BatchEngineTest, PrefixCacheReusesAllButTheLastTokenOfARepeatedPrompt) {
  if (test_support::test_device() != "cpu") GTEST_SKIP() << "batch-invariant mode is the CPU's";
  auto rt = test_support::load_test_runtime(true);
  BatchEngineOptions opts;
  opts.ctx_size = 1024;
  opts.max_seqs = 4;
  opts.block_size = 16;
  BatchEngine engine(*rt, opts);
  for (const std::string text : {"Pierre said that", "The Emperor Napoleon rode along the line of the army, and the"}) {
    const int n_prompt = static_cast<int>(rt->tokenizer().encode(text, true).size());
    ASSERT_LT(n_prompt % 16, 16);
    std::vector<std::vector<int32_t>> outs;
    for (int round = 0; round < 2; ++round) {
      auto c = collector();
      ASSERT_EQ(engine.submit(greedy("r" + std::to_string(round), text, 12), c).admission, Admission::accepted);
      const FinalResult end = c->wait_end();
      engine.wait_idle();
      // The first round may reuse what the texts share (the BOS token).
      if (round == 1) EXPECT_EQ(end.cached_prompt_tokens, n_prompt - 1) << text;
      outs.push_back(c->tokens);
    }
    EXPECT_EQ(outs[1], outs[0]) << text;
  }
}

// A cached prefix is reused in place by the slot whose region holds it, and copied into the region
// of any other slot: both continue exactly as the request alone.
TEST_F(BatchEngineTest, PrefixCachedInAnotherSlotsRegionIsCopiedHome) {
  const std::string base = long_prompt();
  const auto r1 = greedy("r1", base + " - I really believe he is Antichrist", 20);
  const auto r2 = greedy("r2", base + " - and the old prince", 20);
  const auto want1 = single(r1);
  const auto want2 = single(r2);
  BatchEngineOptions opts;
  opts.ctx_size = 1024;
  opts.max_seqs = 4;
  opts.block_size = 16;
  BatchEngine engine(*runtime_, opts);
  if (!runtime_->model().attends_by_region()) GTEST_SKIP() << "no home regions without flash attention";

  auto first = collector();
  ASSERT_TRUE(engine.submit(greedy("a", base, 4), first).admission == Admission::accepted);
  first->wait_end();
  engine.wait_idle();

  auto c1 = collector();
  auto c2 = collector();
  ASSERT_TRUE(engine.submit(r1, c1).admission == Admission::accepted);
  ASSERT_TRUE(engine.submit(r2, c2).admission == Admission::accepted);
  const FinalResult e1 = c1->wait_end();
  const FinalResult e2 = c2->wait_end();
  engine.wait_idle();
  const int n_base = static_cast<int>(runtime_->tokenizer().encode(base, true).size());
  EXPECT_GE(e1.cached_prompt_tokens, n_base / 16 * 16);
  EXPECT_GE(e2.cached_prompt_tokens, n_base / 16 * 16);
  // The first admitted took the slot holding the prefix (its full blocks shared, the part of a block
  // after them copied), the second copied it all.
  const auto stats = engine.detailed_stats();
  EXPECT_EQ(stats.prefix_cache_copied_tokens,
            static_cast<uint64_t>(e2.cached_prompt_tokens + e1.cached_prompt_tokens % 16));
  EXPECT_GT(stats.prefix_cache_copied_tokens, 0u);
  EXPECT_EQ(c1->tokens, want1);
  EXPECT_EQ(c2->tokens, want2);
}

// A cache too small for every sequence's whole continuation: sequences take KV blocks as they grow,
// the most recently admitted are preempted when none is left and recompute their tokens later, and
// every request still ends with exactly the continuation it has alone.
TEST_F(BatchEngineTest, PreemptedSequencesResumeAndMatchTheirContinuationsAlone) {
  const std::vector<std::string> prompts = {"Pierre", "The Emperor Napoleon rode along the line of the army",
                                            "Natasha ran into the drawing room", "Prince Vasili"};
  std::vector<Request> reqs;
  std::vector<std::vector<int32_t>> want;
  for (size_t i = 0; i < prompts.size(); ++i) {
    reqs.push_back(greedy("p" + std::to_string(i), prompts[i], 40));
    want.push_back(single(reqs.back()));
  }
  BatchEngineOptions opts;
  opts.ctx_size = 128;  // 8 blocks of 16: room for two or three of the four at their full length
  opts.max_seqs = 4;
  opts.block_size = 16;
  opts.home_span_tokens = 0;  // else the longer requests wait for two or more slots and none runs short
  BatchEngine engine(*runtime_, opts);
  std::vector<std::shared_ptr<Collector>> out;
  ASSERT_NO_FATAL_FAILURE(submit_all(engine, reqs, out));
  for (size_t i = 0; i < reqs.size(); ++i) {
    const FinalResult end = out[i]->wait_end();
    EXPECT_EQ(end.reason, FinishReason::max_tokens) << reqs[i].job_id;
    EXPECT_EQ(out[i]->tokens, want[i]) << reqs[i].job_id;
  }
  engine.wait_idle();
  EXPECT_GT(engine.detailed_stats().preemptions, 0u);
  EXPECT_EQ(engine.stats().running_sequences, 0);
}

// A refusal names the field at fault, not the context limit.
TEST_F(BatchEngineTest, RefusalsNameTheFieldAtFault) {
  BatchEngineOptions opts;
  opts.ctx_size = 512;
  opts.max_seqs = 2;
  BatchEngine engine(*runtime_, opts);
  Request oov = greedy("oov", "", 4);
  oov.prompt = TokenPrompt{{1, 99999}};
  const auto r1 = engine.submit(oov, collector());
  EXPECT_EQ(r1.admission, Admission::invalid);
  EXPECT_EQ(r1.field, "prompt");
  Request running = greedy("dup", "Pierre", 400);
  running.ignore_eos = true;
  auto c = collector();
  ASSERT_EQ(engine.submit(running, c).admission, Admission::accepted);
  const auto r2 = engine.submit(greedy("dup", "Natasha", 4), collector());
  EXPECT_EQ(r2.admission, Admission::invalid);
  EXPECT_EQ(r2.field, "job_id");
  EXPECT_EQ(r2.constraint, "unique");
  const auto r3 = engine.submit(greedy("long", "Pierre", 100000), collector());
  EXPECT_EQ(r3.admission, Admission::invalid);
  EXPECT_EQ(r3.field, "max_tokens") << "the prompt fits; max_tokens asks for more than is left";
  EXPECT_EQ(r3.constraint, "context_length");
  Request too_long = greedy("too-long", "", 4);
  too_long.prompt = TokenPrompt{std::vector<int32_t>(2000, 5)};
  const auto r4 = engine.submit(too_long, collector());
  EXPECT_EQ(r4.admission, Admission::invalid);
  EXPECT_EQ(r4.field, "prompt") << "the prompt alone leaves no room";
  Request bias = greedy("bias", "Pierre", 4);
  bias.sampling.logit_bias[runtime_->model().n_vocab()] = -100.0f;
  const auto r5 = engine.submit(bias, collector());
  EXPECT_EQ(r5.admission, Admission::invalid);
  EXPECT_EQ(r5.field, "logit_bias");
  engine.cancel("dup");
  c->wait_end();
}

TEST_F(BatchEngineTest, SeededSamplingIsTheSameAloneAndInABatch) {
  Request r;
  r.job_id = "seeded";
  r.prompt = TextPrompt{"Prince Andrew looked at the sky", true};
  r.sampling.temperature = 0.8f;
  r.sampling.top_k = 50;
  r.sampling.seed = 4242;
  r.max_tokens = 32;
  BatchEngineOptions opts;
  opts.max_seqs = 8;
  // Only the batch-invariant mode promises a row's logits independent of its batch: elsewhere a
  // batch's kernels may sum in another order than one row's (AVX-512 tinyBLAS does), and a draw near
  // a boundary between two tokens may then go either way.
  const auto invariant = test_support::load_test_runtime(/*batch_invariant=*/true);
  BatchEngine engine(*invariant, opts);

  auto alone = collector();
  ASSERT_TRUE(engine.submit(r, alone).admission == Admission::accepted);
  alone->wait_end();
  engine.wait_idle();

  std::vector<std::shared_ptr<Collector>> others;
  for (int i = 0; i < 5; ++i) {
    Request o = r;
    o.job_id = "other" + std::to_string(i);
    o.sampling.seed = 100 + i;
    o.prompt = TextPrompt{"The old count said " + std::to_string(i), true};
    others.push_back(collector());
    ASSERT_TRUE(engine.submit(o, others.back()).admission == Admission::accepted);
  }
  auto batched = collector();
  r.job_id = "seeded2";
  ASSERT_TRUE(engine.submit(r, batched).admission == Admission::accepted);
  batched->wait_end();
  for (auto& o : others) o->wait_end();
  EXPECT_EQ(batched->tokens, alone->tokens);
  EXPECT_EQ(batched->text, alone->text);
  EXPECT_EQ(alone->tokens.size(), 32u);
}

TEST_F(BatchEngineTest, CancelAndDisconnectEndTheJobAndTheNextIsServed) {
  BatchEngineOptions opts;
  opts.max_seqs = 2;
  BatchEngine engine(*runtime_, opts);
  auto long_req = greedy("long", "Pierre", 900);
  long_req.ignore_eos = true;

  auto c = collector();
  ASSERT_TRUE(engine.submit(long_req, c).admission == Admission::accepted);
  c->wait_tokens(2);
  EXPECT_TRUE(engine.cancel("long"));
  const FinalResult end = c->wait_end();
  EXPECT_EQ(end.reason, FinishReason::cancelled);
  EXPECT_LT(end.tokens_out, 900);
  engine.wait_idle();
  EXPECT_FALSE(engine.cancel("long"));  // finished: nothing to cancel

  auto gone = collector();
  gone->disconnect_after_first = true;
  long_req.job_id = "gone";
  ASSERT_TRUE(engine.submit(long_req, gone).admission == Admission::accepted);
  EXPECT_EQ(gone->wait_end().reason, FinishReason::cancelled);
  engine.wait_idle();
  EXPECT_EQ(engine.stats().running_sequences, 0);
  EXPECT_DOUBLE_EQ(engine.stats().kv_cache_usage_ratio, 0.0);

  const auto ref = reference()["cases"][1];
  auto next = collector();
  ASSERT_TRUE(engine.submit(greedy("next", ref["prompt"], 48), next).admission == Admission::accepted);
  next->wait_end();
  EXPECT_EQ(next->text, ref["greedy_text"].get<std::string>());
}

// Events reach the sinks from the outbox's thread: a sink that throws there still ends its own job
// (as cancelled, within a step or two), and the job beside it is served to the end.
TEST_F(BatchEngineTest, ASinkThatThrowsEndsItsJobAloneAsCancelled) {
  BatchEngineOptions opts;
  opts.max_seqs = 2;
  BatchEngine engine(*runtime_, opts);
  auto long_req = greedy("bad", "Pierre", 400);
  long_req.ignore_eos = true;
  auto bad = collector();
  bad->throw_after = 3;
  const auto ref = reference()["cases"][1];
  auto good = collector();
  ASSERT_TRUE(engine.submit(long_req, bad).admission == Admission::accepted);
  ASSERT_TRUE(engine.submit(greedy("good", ref["prompt"], 48), good).admission == Admission::accepted);
  const FinalResult end = bad->wait_end();
  EXPECT_EQ(end.reason, FinishReason::cancelled);
  EXPECT_EQ(bad->n_token_events, 3);
  EXPECT_LT(end.tokens_out, 400);
  good->wait_end();
  const Request good_req = greedy("good", ref["prompt"], 48);
  expect_continuation(good->tokens, single(good_req), alone_tops(good_req), "good");
  engine.wait_idle();
  EXPECT_EQ(engine.stats().running_sequences, 0);
}

// The warm-up runs passes through the model before the engine takes requests and leaves nothing
// behind: no step, token or cache block counted, the whole cache free, and requests served as by
// an engine without it.
TEST_F(BatchEngineTest, AWarmUpRunsPassesAndLeavesNothingBehind) {
  BatchEngineOptions opts;
  opts.max_seqs = 2;
  opts.ctx_size = 1024;
  opts.warm_up = true;
  opts.warm_up_alone = std::vector<int>{40, 5000};  // the second longer than the cache: left out
  const uint64_t graphs_before = runtime_->model().timings().graphs;
  BatchEngine engine(*runtime_, opts);
  // A prompt step and two decode steps of the pair, then of the prompt alone.
  EXPECT_EQ(runtime_->model().timings().graphs - graphs_before, 6u);
  const auto ref = reference()["cases"][1];
  auto c = collector();
  ASSERT_TRUE(engine.submit(greedy("after-warm-up", ref["prompt"], 48), c).admission == Admission::accepted);
  const FinalResult end = c->wait_end();
  EXPECT_EQ(c->text, ref["greedy_text"].get<std::string>());
  engine.wait_idle();
  // The counters hold this request alone: its prompt in one step, then a step per further token.
  const BatchEngineStats s = engine.detailed_stats();
  EXPECT_EQ(s.prompt_tokens, static_cast<uint64_t>(end.prompt_tokens));
  EXPECT_EQ(s.generated_tokens, static_cast<uint64_t>(end.tokens_out));
  EXPECT_EQ(s.steps, static_cast<uint64_t>(end.tokens_out));
  EXPECT_EQ(s.prefix_cache_hit_tokens, 0u);
  // The warm-up's prompts left nothing in the prefix cache.
  for (int k = 0; k < 3; ++k) {
    Request again;
    again.job_id = "warm-up-prompt-" + std::to_string(k);
    again.prompt = TokenPrompt{warm_up_prompt(k < 2 ? 65 : 40, runtime_->model().n_vocab(), k)};
    again.sampling.temperature = 0.0f;
    again.max_tokens = 1;
    auto c2 = collector();
    ASSERT_TRUE(engine.submit(again, c2).admission == Admission::accepted);
    EXPECT_EQ(c2->wait_end().cached_prompt_tokens, 0) << k;
  }
}

TEST_F(BatchEngineTest, QueueOverflowIsRefusedAsOverloaded) {
  BatchEngineOptions opts;
  opts.max_seqs = 1;
  opts.max_queue = 2;
  BatchEngine engine(*runtime_, opts);
  auto r = greedy("running", "Pierre", 900);
  r.ignore_eos = true;
  auto running = collector();
  ASSERT_TRUE(engine.submit(r, running).admission == Admission::accepted);
  running->wait_tokens(1);  // admitted: the queue is empty again
  auto q1 = collector(), q2 = collector(), q3 = collector();
  r.job_id = "q1";
  EXPECT_TRUE(engine.submit(r, q1).admission == Admission::accepted);
  r.job_id = "q2";
  EXPECT_TRUE(engine.submit(r, q2).admission == Admission::accepted);
  r.job_id = "q3";
  const auto refused = engine.submit(r, q3);
  EXPECT_EQ(refused.admission, Admission::overloaded);
  EXPECT_EQ(engine.stats().queue_length, 2);
  for (const char* id : {"running", "q1", "q2"}) engine.cancel(id);
  EXPECT_EQ(q1->wait_end().reason, FinishReason::cancelled);
  EXPECT_EQ(q2->wait_end().reason, FinishReason::cancelled);
  engine.wait_idle();
  EXPECT_FALSE(q3->end.has_value());
}

TEST_F(BatchEngineTest, ContextLimitEndsWithContextLengthAndOversizedRequestsAreRefused) {
  BatchEngineOptions opts;
  opts.ctx_size = 64;
  opts.block_size = 16;
  opts.max_seqs = 2;
  BatchEngine engine(*runtime_, opts);
  ASSERT_EQ(engine.sequence_limit(), 64);
  const auto ref = reference()["cases"][0];
  auto r = greedy("ctx", ref["prompt"], std::nullopt);  // 21 prompt tokens
  r.ignore_eos = true;
  auto c = collector();
  ASSERT_TRUE(engine.submit(r, c).admission == Admission::accepted);
  const FinalResult end = c->wait_end();
  EXPECT_EQ(end.reason, FinishReason::context_length);
  EXPECT_EQ(end.prompt_tokens + end.tokens_out, 64);
  const auto want = ref["greedy_ids"].get<std::vector<int32_t>>();
  ASSERT_EQ(c->tokens.size(), 43u);
  EXPECT_TRUE(std::equal(c->tokens.begin(), c->tokens.end(), want.begin()));

  auto big = greedy("big", ref["prompt"], 44);
  const auto refused = engine.submit(big, collector());
  EXPECT_EQ(refused.admission, Admission::invalid);
  EXPECT_NE(refused.message.find("21"), std::string::npos) << refused.message;
  EXPECT_NE(refused.message.find("44"), std::string::npos) << refused.message;
  EXPECT_NE(refused.message.find("64"), std::string::npos) << refused.message;
}

}  // namespace
}  // namespace rbees::engine
