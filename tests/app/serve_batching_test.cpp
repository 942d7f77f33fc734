// Many requests at once through the real daemon: concurrent greedy requests each give their
// single-request continuation, and a shared prompt prefix is reused from the cache without changing
// the output.
#include <future>

#include "app/daemon.hpp"

namespace rbees::app::testing {
namespace {

struct Job {
  std::string prompt;
  int max_tokens;
};

// 16 prompts of different lengths: the five reference prompts, and variations of them.
std::vector<Job> sixteen_jobs() {
  const auto cases = reference_cases();
  std::vector<Job> jobs;
  for (const auto& c : cases) jobs.push_back({c["prompt"], static_cast<int>(c["greedy_ids"].size())});
  const std::vector<std::string> extra = {"Natasha",
                                          "Pierre went to the window and",
                                          "The old count",
                                          "Prince Andrew looked at",
                                          "It was in July, 1805, and",
                                          "The French army",
                                          "She said nothing, but",
                                          "Moscow",
                                          "The regiment had been",
                                          "\"Well, Prince, so Genoa and Lucca",
                                          "After dinner the countess"};
  for (size_t i = 0; i < extra.size(); ++i) jobs.push_back({extra[i], 8 + static_cast<int>(i) * 7});
  return jobs;
}

TEST(ServeBatching, SixteenConcurrentGreedyRequestsEachGiveTheirOwnContinuation) {
  Daemon d({"--model", kModelDir, "--max-seqs", "16"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  // 8192 cells over 16 slots: regions of 512, and homes of up to two of them for the model's 1024
  // tokens of context.
  const json health = json::parse(d.client().Get("/health")->body);
  EXPECT_EQ(health["kv_cache_tokens"], 8192);
  EXPECT_EQ(health["region_tokens"], 512);
  EXPECT_EQ(health["max_home_span"], 2);
  const auto jobs = sixteen_jobs();
  ASSERT_EQ(jobs.size(), 16u);
  // Each prompt alone first. Batches of other shapes may change logits in their last bits, which can
  // flip a greedy choice between two near-tied tokens; past the first step whose top two
  // log-probabilities (alone) are within kTie, the continuation is not determined and is not compared
  // (for the reference prompts the whole continuation is compared all the same).
  constexpr double kTie = 0.05;
  std::vector<std::string> single, determined;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto r = execute(d, greedy_body("single-" + std::to_string(i), jobs[i].prompt, jobs[i].max_tokens));
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(r.last_type, "end");
    single.push_back(r.text);
    const json body = {
        {"prompt", jobs[i].prompt}, {"max_tokens", jobs[i].max_tokens}, {"temperature", 0}, {"logprobs", 2}};
    auto res = d.client().Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json lp = json::parse(res->body)["choices"][0]["logprobs"];
    std::string prefix;
    bool tied = false;
    for (size_t t = 0; t < lp["tokens"].size() && !tied; ++t) {
      std::vector<double> top;
      for (const auto& [tok, v] : lp["top_logprobs"][t].items()) top.push_back(v.get<double>());
      std::sort(top.rbegin(), top.rend());
      tied = top.size() > 1 && top[0] - top[1] < kTie;
      if (!tied) prefix += lp["tokens"][t].get<std::string>();
    }
    determined.push_back(tied ? prefix : r.text);
  }
  const auto cases = reference_cases();
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(single[i], cases[i]["greedy_text"].get<std::string>());
    determined[i] = single[i];  // these must come out whole: the acceptance of concurrent batching
  }

  std::vector<std::future<ExecuteResult>> futures;
  for (size_t i = 0; i < jobs.size(); ++i) {
    futures.push_back(std::async(std::launch::async, [&d, &jobs, i] {
      return execute(d, greedy_body("together-" + std::to_string(i), jobs[i].prompt, jobs[i].max_tokens));
    }));
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    ASSERT_EQ(futures[i].wait_for(std::chrono::seconds(180)), std::future_status::ready);
    const auto r = futures[i].get();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.last_type, "end");
    if (determined[i] == single[i]) {
      EXPECT_EQ(r.text, single[i]) << "prompt " << json(jobs[i].prompt);
    } else {
      EXPECT_EQ(r.text.substr(0, determined[i].size()), determined[i]) << "prompt " << json(jobs[i].prompt);
    }
  }
}

TEST(ServeBatching, SharedPrefixIsReusedWithIdenticalOutput) {
  const auto cases = reference_cases();
  std::string prefix;
  for (const auto& c : cases)
    prefix += c["prompt"].get<std::string>() + " " + c["greedy_text"].get<std::string>() + "\n";
  const std::string first = prefix + "The prince";
  const std::string second = prefix + "Natasha looked at";

  // The second prompt's output without any cached prefix, from a fresh daemon.
  std::string cold;
  {
    Daemon fresh({"--model", kModelDir, "--batch-invariant"});
    ASSERT_TRUE(fresh.wait_healthy()) << fresh.log();
    const auto r = execute(fresh, greedy_body("cold", second, 24));
    ASSERT_EQ(r.status, 200) << r.body;
    cold = r.text;
    EXPECT_EQ(metric_value(metrics_text(fresh), "rbees_prefix_cache_hit_tokens_total"), std::optional<double>(0));
  }

  Daemon d({"--model", kModelDir, "--batch-invariant"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  const auto a = execute(d, greedy_body("warm-a", first, 24));
  ASSERT_EQ(a.status, 200) << a.body;
  const auto b = execute(d, greedy_body("warm-b", second, 24));
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(b.text, cold);
  const auto tokens =
      d.client().Post("/tokenize", json{{"content", prefix}, {"add_special", true}}.dump(), "application/json");
  ASSERT_TRUE(tokens);
  const size_t prefix_tokens = json::parse(tokens->body)["tokens"].size();
  const double hits = metric_value(metrics_text(d), "rbees_prefix_cache_hit_tokens_total").value_or(-1);
  EXPECT_GT(hits, 0);
  EXPECT_LE(hits, static_cast<double>(prefix_tokens) + 1);
  // The same prompt again reuses it too and repeats its output.
  const auto a2 = execute(d, greedy_body("warm-a2", first, 24));
  ASSERT_EQ(a2.status, 200);
  EXPECT_EQ(a2.text, a.text);
  EXPECT_GT(metric_value(metrics_text(d), "rbees_prefix_cache_hit_tokens_total").value_or(-1), hits);
}

}  // namespace
}  // namespace rbees::app::testing

namespace rbees::app::testing {
namespace {

// usage.prompt_tokens_details.cached_tokens says how much of the prompt came from the prefix cache:
// nothing the first time, whole 16-token blocks the second (one prompt token is always computed).
TEST(ServeBatching, UsageReportsCachedPromptTokens) {
  Daemon d({"--model", kModelDir});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  std::string prompt;
  for (const auto& c : reference_cases()) prompt += c["prompt"].get<std::string>() + " ";
  const json body = {{"prompt", prompt}, {"max_tokens", 2}, {"temperature", 0}};
  std::vector<json> usage;
  for (int i = 0; i < 2; ++i) {
    auto res = d.client().Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    usage.push_back(json::parse(res->body)["usage"]);
  }
  const int prompt_tokens = usage[1]["prompt_tokens"];
  EXPECT_EQ(usage[0]["prompt_tokens_details"]["cached_tokens"], 0);
  // Every token but the last: the full blocks shared, the part of one after them copied.
  EXPECT_EQ(usage[1]["prompt_tokens_details"]["cached_tokens"], prompt_tokens - 1);
}

}  // namespace
}  // namespace rbees::app::testing
