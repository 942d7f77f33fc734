// --batch-invariant through the real daemon: a greedy request's completion is the one it gets alone,
// whatever else runs beside it, over many rounds of concurrent requests that arrive staggered (so
// the batches, prompt chunks, home regions and prefix-cache hits differ from round to round).
// Without the option the same workload gives other completions for some jobs in most rounds (the
// CPU's tinyBLAS takes products of two or more columns only).
#include <future>
#include <optional>

#include "app/daemon.hpp"

namespace rbees::app::testing {
namespace {

struct Completion {
  int status = 0;
  std::string text;
  std::string body;
};

// Greedy, or with a seed sampled at temperature 0.8 (the request's own random stream).
Completion complete(const Daemon& d, const std::string& prompt, int max_tokens, std::optional<int> seed = {}) {
  json body = {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", seed ? 0.8 : 0.0}};
  if (seed) body["seed"] = *seed;
  auto res = d.client().Post("/v1/completions", body.dump(), "application/json");
  if (!res) return {};
  Completion c{res->status, "", res->body};
  if (res->status == 200) c.text = json::parse(res->body)["choices"][0]["text"];
  return c;
}

// Every job alone, then `rounds` rounds of all of them at once; each completion must be its own.
// With `sampled`, every third job samples with a seed of its own.
void check_rounds(const std::vector<std::string>& extra, int rounds, const std::string& logged = "overlap_steps=false",
                  bool sampled = false) {
  std::vector<std::string> args = {"--model",         kModelDir, "--batch-invariant", "--max-seqs", "8",
                                   "--prefill-chunk", "32"};
  args.insert(args.end(), extra.begin(), extra.end());
  Daemon d(args);
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  EXPECT_NE(d.log().find(logged), std::string::npos) << d.log();
  struct Job {
    std::string prompt;
    int max_tokens;
    std::optional<int> seed;
  };
  // Prompts the model is unsure about (it has memorised the book, so passages from it would leave
  // no near-ties to flip), of mixed lengths.
  const std::vector<std::string> prompts = {"Natasha",
                                            "Pierre went to the window and",
                                            "The old count",
                                            "Prince Andrew looked at",
                                            "It was in July, 1805, and",
                                            "The French army",
                                            "She said nothing, but",
                                            "Moscow",
                                            "The regiment had been",
                                            "\"Well, Prince, so Genoa and Lucca",
                                            "After dinner the countess",
                                            "Why do you",
                                            "He could not understand",
                                            "In the morning",
                                            "What is it"};
  std::vector<Job> jobs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    jobs.push_back({prompts[i], 24 + static_cast<int>(i % 3) * 20,
                    sampled && i % 3 == 1 ? std::optional<int>(1000 + static_cast<int>(i)) : std::nullopt});
  }
  std::vector<std::string> alone;
  for (const auto& j : jobs) {
    const auto r = complete(d, j.prompt, j.max_tokens, j.seed);
    ASSERT_EQ(r.status, 200) << r.body;
    alone.push_back(r.text);
  }

  int compared = 0;
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::future<Completion>> futures;
    for (size_t i = 0; i < jobs.size(); ++i) {
      // Staggered arrivals: each round admits the jobs in another order and at other steps.
      const auto delay = std::chrono::milliseconds((i * 7 + round * 5) % 23);
      futures.push_back(std::async(std::launch::async, [&d, &jobs, i, delay] {
        std::this_thread::sleep_for(delay);
        return complete(d, jobs[i].prompt, jobs[i].max_tokens, jobs[i].seed);
      }));
    }
    for (size_t i = 0; i < jobs.size(); ++i) {
      ASSERT_EQ(futures[i].wait_for(std::chrono::seconds(180)), std::future_status::ready);
      const auto r = futures[i].get();
      ASSERT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.text, alone[i]) << "round " << round << ", job " << i;
      ++compared;
    }
  }
  EXPECT_EQ(compared, rounds * 15);
}

TEST(ServeInvariance, ConcurrentGreedyCompletionsEqualEachAloneOverManyRounds) {
  check_rounds({}, 12);
}

// Overlapped steps (a step launched before the one ahead of it is turned into tokens) change no
// completion either, whatever ends and starts around them, greedy or sampled with a seed (steps
// with a sampled row run ahead with their logits rows).
TEST(ServeInvariance, OverlappedStepsChangeNoCompletion) {
  check_rounds({"--greedy-on-device", "on", "--overlap-steps", "on"}, 6, "overlap_steps=true", true);
}

}  // namespace
}  // namespace rbees::app::testing

namespace rbees::app::testing {
namespace {

// The mode is refused, not quietly weakened, where it cannot hold.
TEST(ServeInvariance, WithoutFlashAttentionTheModeIsRefused) {
  Daemon d({"--model", kModelDir, "--batch-invariant", "--flash-attn", "off"});
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(30)), std::optional<int>(1)) << d.log();
  EXPECT_NE(d.log().find("batch-invariant mode needs flash attention"), std::string::npos) << d.log();
}

}  // namespace
}  // namespace rbees::app::testing
