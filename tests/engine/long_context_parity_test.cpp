// Greedy completions with log-probabilities of long prompts (230 to 980 tokens of War and Peace, so
// that the decodes cross positions 256, 512 and 768 and end at 1019) served by the batch engine
// alone, beside each other in their home regions, in regions too small for them and after
// prefix-cache hits, with small prefill chunks; each against one full pass of the model over the
// prompt and the completion.
//
// In batch-invariant mode the engine must give the full pass's greatest logit at every step and its
// log-probabilities within 1e-3 (the HTTP tests' tolerance). The default kernels round a decode step
// (one-query flash kernel, single-column products) otherwise than a full pass (tiled flash kernel,
// tinyBLAS), which at these positions moves log-probabilities by up to about 0.2: there a served
// token may be the full pass's runner-up where the top two are within kNearTie (the band of
// batch_engine_test.cpp), and the log-probability differences are printed, not bounded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/batch_engine.hpp"
#include "engine/test_runtime.hpp"
#include "model/war_and_peace.hpp"
#include "sampling/logprobs.hpp"

namespace rbees::engine {
namespace {

using model::testing::have_war_and_peace;
using model::testing::kWarAndPeace;
using model::testing::war_and_peace_ids;

constexpr int kNewTokens = 40;
constexpr int kTopLogprobs = 5;
constexpr float kNearTie = 0.1f;
constexpr double kLogprobTol = 1e-3;

struct Collector : Sink {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int32_t> tokens;
  std::vector<std::vector<sampling::TokenLogprob>> tops;
  std::optional<FinalResult> end;
  void on_token(const TokenEvent& ev) override {
    std::lock_guard lk(mu);
    tokens.push_back(ev.id);
    tops.push_back(ev.top_logprobs);
  }
  void on_finish(const FinalResult& r) override {
    std::lock_guard lk(mu);
    end = r;
    cv.notify_all();
  }
  bool client_gone() const override { return false; }
  FinalResult wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return end.has_value(); });
    return *end;
  }
};

// What one request gave: its prompt, completion and the top log-probabilities of each token.
struct Served {
  std::string label;
  std::vector<int32_t> prompt;
  std::vector<int32_t> tokens;
  std::vector<std::vector<sampling::TokenLogprob>> tops;
  FinalResult end;
};

using NamedPrompt = std::pair<std::string, std::vector<int32_t>>;

// The model with the default kernels or in batch-invariant mode, and the full passes already made.
struct Runtime {
  std::unique_ptr<ModelRuntime> rt;
  bool invariant;
  std::map<std::vector<int32_t>, std::vector<float>> passes;
};

// Homes of one region each unless home_span_tokens says otherwise.
BatchEngineOptions engine_options(int ctx_size, int max_seqs, int prefill_chunk, int home_span_tokens = 0) {
  BatchEngineOptions o;
  o.ctx_size = ctx_size;
  o.max_seqs = max_seqs;
  o.prefill_chunk = prefill_chunk;
  o.block_size = 16;
  o.home_span_tokens = home_span_tokens;
  return o;
}

class LongContextEngine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_war_and_peace() || test_support::test_device() != "cpu") return;
    default_ = new Runtime{test_support::load_test_runtime(), false, {}};
    RuntimeOptions o;
    o.model_path = std::string(RBEES_SOURCE_DIR) + "/models/wp-llama-5m";
    o.device = "cpu";
    o.threads = 1;
    o.batch_invariant = true;
    invariant_ = new Runtime{ModelRuntime::load(o), true, {}};
    // As a GPU runs by default: decode steps padded to bucketed sizes over every home's stream.
    o.batch_invariant = false;
    o.decode_buckets = true;
    padded_ = new Runtime{ModelRuntime::load(o), false, {}};
    prompts_ = {{"prompt980", war_and_peace_ids(0, 980)},
                {"prompt740", war_and_peace_ids(100000, 740)},
                {"prompt490", war_and_peace_ids(200000, 490)},
                {"prompt230", war_and_peace_ids(300000, 230)}};
  }
  static void TearDownTestSuite() {
    delete default_;
    delete invariant_;
    delete padded_;
    default_ = invariant_ = padded_ = nullptr;
  }
  void SetUp() override {
    if (!have_war_and_peace()) GTEST_SKIP() << "../shared is absent: no " << kWarAndPeace;
    if (test_support::test_device() != "cpu") GTEST_SKIP() << "batch-invariant mode is the CPU's";
  }

  static Request greedy_request(const NamedPrompt& p, int max_tokens) {
    Request r;
    r.job_id = p.first;
    r.prompt = TokenPrompt{p.second};
    r.sampling.temperature = 0.0f;
    r.max_tokens = max_tokens;
    r.ignore_eos = true;
    r.logprobs = kTopLogprobs;
    return r;
  }

  // Submits the requests at once, in order, and waits for them all.
  static std::vector<Served> serve(BatchEngine& engine, const std::vector<NamedPrompt>& prompts,
                                   int max_tokens = kNewTokens) {
    std::vector<std::shared_ptr<Collector>> sinks;
    for (const auto& p : prompts) {
      sinks.push_back(std::make_shared<Collector>());
      const auto admitted = engine.submit(greedy_request(p, max_tokens), sinks.back());
      EXPECT_EQ(admitted.admission, Admission::accepted) << p.first << ": " << admitted.message;
    }
    std::vector<Served> out;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const FinalResult end = sinks[i]->wait();
      EXPECT_EQ(end.reason, FinishReason::max_tokens) << prompts[i].first;
      if (end.failure) ADD_FAILURE() << prompts[i].first << ": " << end.failure->message;
      out.push_back({prompts[i].first, prompts[i].second, sinks[i]->tokens, sinks[i]->tops, end});
    }
    engine.wait_idle();
    return out;
  }

  // The logits of every position of `ids` from one pass of the model over a fresh cache. Only while
  // no engine runs: the model takes one pass at a time.
  static const std::vector<float>& full_pass(Runtime& r, const std::vector<int32_t>& ids) {
    auto it = r.passes.find(ids);
    if (it != r.passes.end()) return it->second;
    model::LlamaModel& m = r.rt->model();
    model::KvCache kv = m.create_kv_cache(1024, GGML_TYPE_F16);
    model::Batch b;
    for (size_t i = 0; i < ids.size(); ++i) b.add(ids[i], static_cast<int32_t>(i), 0, true);
    return r.passes.emplace(ids, m.forward(b, kv)).first->second;
  }

  // Each served token against the full pass over the prompt and the completion (teacher-forced, so
  // one step's rounding does not carry into the next's comparison).
  static void expect_matches_full_pass(Runtime& r, const Served& s, const std::string& scenario) {
    const std::string what =
        std::string(r.invariant ? "batch-invariant" : "default") + ", " + scenario + ", " + s.label;
    ASSERT_EQ(s.tokens.size(), static_cast<size_t>(kNewTokens)) << what;
    std::vector<int32_t> ids = s.prompt;
    ids.insert(ids.end(), s.tokens.begin(), s.tokens.end() - 1);
    const std::vector<float>& logits = full_pass(r, ids);
    const size_t V = static_cast<size_t>(r.rt->model().n_vocab());
    double worst = 0;
    int worst_pos = -1, runner_up = 0;
    for (size_t k = 0; k < s.tokens.size(); ++k) {
      const size_t pos = s.prompt.size() - 1 + k;
      const std::span<const float> row(logits.data() + pos * V, V);
      const auto want = sampling::top_logprobs(row, 2);
      if (s.tokens[k] != want[0].id) {
        ++runner_up;
        EXPECT_FALSE(r.invariant) << what << ": token " << k << " (position " << pos
                                  << ") is not the full pass's greatest logit";
        EXPECT_LT(want[0].logprob - want[1].logprob, kNearTie)
            << what << ": token " << k << " (position " << pos << ") parted from the full pass where it had no tie";
        EXPECT_EQ(s.tokens[k], want[1].id) << what << ": token " << k << " is neither of the full pass's top two";
      }
      ASSERT_EQ(s.tops[k].size(), static_cast<size_t>(kTopLogprobs)) << what;
      for (const auto& t : s.tops[k]) {
        const double d = std::abs(t.logprob - sampling::token_logprob(row, t.id));
        if (!std::isnan(worst) && (std::isnan(d) || d > worst)) {
          worst = d;
          worst_pos = static_cast<int>(pos);
        }
      }
    }
    if (r.invariant) EXPECT_LT(worst, kLogprobTol) << what << ": at position " << worst_pos;
    std::printf("[ parity   ] %-38s reused %3d, max |logprob diff| %.3e (position %4d), runner-up taken %d\n",
                what.c_str(), s.end.cached_prompt_tokens, worst, worst_pos, runner_up);
    ::testing::Test::RecordProperty(what, std::to_string(worst));
  }

  static void expect_all_match(Runtime& r, const std::vector<Served>& served, const std::string& scenario) {
    for (const auto& s : served) expect_matches_full_pass(r, s, scenario);
  }

  // The longest two prompts one at a time over a cache of 1024 cells, 7 prompt tokens per step.
  static void alone(Runtime& r) {
    std::vector<Served> served;
    {
      BatchEngine engine(*r.rt, engine_options(1024, 1, 7));
      for (int i : {0, 1}) {
        auto one = serve(engine, {prompts_[i]});
        served.insert(served.end(), one.begin(), one.end());
      }
    }
    expect_all_match(r, served, "alone");
  }

  // Four sequences of different lengths decode side by side, each in its home region of 1024 cells,
  // while the others' prompts are evaluated beside them 32 tokens per step.
  static void together_at_home(Runtime& r) {
    std::vector<Served> served;
    {
      BatchEngine engine(*r.rt, engine_options(4096, 4, 32));
      const auto& p = prompts_;
      served = serve(engine, {p[3], p[0], p[2], p[1]});
    }
    expect_all_match(r, served, "together");
  }

  // Regions of 512 cells: the two longest sequences outgrow theirs (taking cells that the others free
  // as they finish, below their own earlier cells), and the longest waits for room.
  static void together_outgrowing(Runtime& r) {
    std::vector<Served> served;
    {
      BatchEngine engine(*r.rt, engine_options(2048, 4, 16));
      const auto& p = prompts_;
      served = serve(engine, {p[3], p[2], p[1], p[0]});
    }
    expect_all_match(r, served, "outgrown regions");
  }

  // Regions of 512 cells, and homes of up to two: the three longer sequences (490 to 980 prompt
  // tokens and 40 more) take two slots each, from an even slot, and wait for them; the short one
  // takes one. None leaves its home, so none is gathered: they attend in place, as two batches of
  // streams (homes of one region and of two) where they decode together.
  static void together_in_spanning_homes(Runtime& r) {
    std::vector<Served> served;
    const uint64_t gathered_before = r.rt->model().timings().gathered_tokens;
    {
      BatchEngine engine(*r.rt, engine_options(2048, 4, 16, 1024));
      EXPECT_EQ(engine.options().home_span_tokens, 1024);
      const auto& p = prompts_;
      served = serve(engine, {p[3], p[0], p[2], p[1]});
    }
    // (The batch-invariant mode gathers a sequence whose cells at home are out of position order,
    // which blocks freed around it can make them.)
    if (!r.invariant) EXPECT_EQ(r.rt->model().timings().gathered_tokens, gathered_before) << "a sequence left its home";
    expect_all_match(r, served, "homes of two regions");
  }

  // A one-region home (230 prompt tokens) and a two-region one (490) decoding side by side, both
  // prompts evaluated in the first two steps: their decode steps are two batches of streams (homes
  // of one region and of two), padded to bucketed sizes where the runtime pads decode steps.
  static void two_home_sizes_decoding(Runtime& r) {
    std::vector<Served> served;
    {
      BatchEngine engine(*r.rt, engine_options(2048, 4, 512, 1024));
      const auto& p = prompts_;
      served = serve(engine, {p[3], p[2]});
    }
    expect_all_match(r, served, "homes of 1 and 2 regions");
  }

  // The longest prompt after an earlier request evaluated its first 600 tokens, with a second prompt
  // beside it. From the other slot, the reused cells lie above the sequence's home region, where its
  // later tokens go; from its own slot, they are at home below them.
  static void prefix_hit(Runtime& r, bool other_slot) {
    std::vector<Served> served;
    {
      BatchEngine engine(*r.rt, engine_options(2048, 2, 16));
      const auto& p = prompts_;
      const NamedPrompt prefix{"prefix600", {p[0].second.begin(), p[0].second.begin() + 600}};
      if (other_slot) {
        serve(engine, {p[3], prefix}, 4);  // slot 0 the short prompt, slot 1 the prefix
      } else {
        serve(engine, {prefix}, 4);
      }
      served = serve(engine, {p[0], p[other_slot ? 1 : 2]});
      EXPECT_GE(served[0].end.cached_prompt_tokens, 600 / 16 * 16);
    }
    expect_all_match(r, served, other_slot ? "prefix hit, other slot" : "prefix hit, same slot");
  }

  static Runtime* default_;
  static Runtime* invariant_;
  static Runtime* padded_;
  static std::vector<NamedPrompt> prompts_;
};
Runtime* LongContextEngine::default_ = nullptr;
Runtime* LongContextEngine::invariant_ = nullptr;
Runtime* LongContextEngine::padded_ = nullptr;
std::vector<NamedPrompt> LongContextEngine::prompts_;

TEST_F(LongContextEngine, EachPromptAloneInSmallPrefillChunks) {
  alone(*invariant_);
  alone(*default_);
}

TEST_F(LongContextEngine, PromptsTogetherInTheirHomeRegions) {
  together_at_home(*invariant_);
  together_at_home(*default_);
}

TEST_F(LongContextEngine, PrefixCacheHitFromTheSameSlot) {
  prefix_hit(*invariant_, false);
  prefix_hit(*default_, false);
}

TEST_F(LongContextEngine, PromptsTogetherOutgrowingTheirRegions) {
  together_outgrowing(*default_);
}

TEST_F(LongContextEngine, PromptsTogetherInHomesSpanningTwoRegions) {
  together_in_spanning_homes(*default_);
  together_in_spanning_homes(*invariant_);
  together_in_spanning_homes(*padded_);
}

TEST_F(LongContextEngine, HomesOfOneAndTwoRegionsDecodingTogether) {
  two_home_sizes_decoding(*default_);
  two_home_sizes_decoding(*padded_);
}

TEST_F(LongContextEngine, PrefixCacheHitFromAnotherSlot) {
  prefix_hit(*default_, true);
}

// Batch-invariant mode where a sequence's cells are not in position order (see
// model/long_context_parity_test.cpp): outgrown regions, and a prefix hit from the other slot. Before
// such sequences were gathered in position order, log-probabilities were off by up to 0.17 and a
// served token was not the full pass's greatest logit.
TEST_F(LongContextEngine, BatchInvariantPromptsTogetherOutgrowingTheirRegions) {
  together_outgrowing(*invariant_);
}

TEST_F(LongContextEngine, BatchInvariantPrefixCacheHitFromAnotherSlot) {
  prefix_hit(*invariant_, true);
}

}  // namespace
}  // namespace rbees::engine
