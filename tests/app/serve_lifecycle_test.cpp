// The real daemon's job lifecycle over HTTP: cancel, client disconnect, overload refusals, SIGTERM
// draining, API keys. Long jobs use --ignore-eos so that they cannot end early on their own.
#include <atomic>
#include <future>
#include <regex>

#include "app/daemon.hpp"

namespace rbees::app::testing {
namespace {

bool has_token_event(const std::string& body) {
  return body.find("event: token") != std::string::npos;
}

// The greedy reference of case 0 still comes out: the worker serves normally.
void expect_serves_normally(const Daemon& d, const std::string& job_id) {
  const auto c = reference_cases()[0];
  const auto r = execute(d, greedy_body(job_id, c["prompt"], static_cast<int>(c["greedy_ids"].size())));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.text, c["greedy_text"].get<std::string>());
}

// While draining, the listener stays open and new work is refused with SHUTTING_DOWN.
void expect_refused_while_draining(const Daemon& d) {
  auto refused = d.client(5).Post("/execute", greedy_body("late", "x", 4).dump(), "application/json");
  ASSERT_TRUE(refused) << "no answer while draining: " << httplib::to_string(refused.error());
  ASSERT_EQ(refused->status, 503) << refused->body.substr(0, 200);
  EXPECT_EQ(json::parse(refused->body)["code"], "SHUTTING_DOWN");
}

TEST(ServeLifecycle, CancelEndsTheStreamWithCancelled) {
  Daemon d({"--model", kModelDir, "--ignore-eos"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  std::atomic<bool> cancelled{false};
  int cancel_status = 0;
  json cancel_body;
  const auto r = execute_streaming(d, greedy_body("long-1", "The prince", 1000), [&](const std::string& acc) {
    if (!cancelled && has_token_event(acc)) {
      cancelled = true;
      auto res = d.client(10).Post("/cancel", json{{"job_id", "long-1"}}.dump(), "application/json");
      cancel_status = res ? res->status : -1;
      if (res) cancel_body = json::parse(res->body);
    }
    return true;
  });
  EXPECT_EQ(cancel_status, 202);
  EXPECT_EQ(cancel_body["cancelled"], true);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.last_type, "error");
  EXPECT_EQ(r.end["code"], "CANCELLED");
  EXPECT_TRUE(r.end.contains("message"));
  EXPECT_TRUE(r.end.contains("retriable"));
  // Cancel is idempotent: a finished or unknown job is still 202.
  auto again = d.client(10).Post("/cancel", json{{"job_id", "long-1"}}.dump(), "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202);
  const double generated = metric_value(metrics_text(d), "rbees_generated_tokens_total").value_or(-1);
  EXPECT_GT(generated, 0);
  EXPECT_LT(generated, 1000);
  expect_serves_normally(d, "after-cancel");
}

// With --event-thread off the engine's own thread hands the events over: the same tokens come out.
TEST(ServeLifecycle, EventsHandedOverOnTheEngineThreadServeTheSame) {
  Daemon d({"--model", kModelDir, "--event-thread", "off"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  expect_serves_normally(d, "engine-thread-events");
}

// The engine's start line says how decode steps and prompt attention were set up: the CPU's
// defaults, then the GPU's asked for (which serve the same tokens; the paths themselves are tested in
// DecodeBuckets and SplitRuns).
TEST(ServeLifecycle, TheStartLogSaysHowStepsAreShaped) {
  {
    Daemon d({"--model", kModelDir});
    ASSERT_TRUE(d.wait_healthy()) << d.log();
    const std::string log = d.log();
    EXPECT_NE(log.find("decode_buckets=false stable_decode_shapes=false split_prompt_attention=false"),
              std::string::npos)
        << log;
  }
  Daemon d({"--model", kModelDir, "--decode-buckets", "on", "--stable-decode-shapes", "on", "--split-prompt-attention",
            "on", "--sparse-decode-runs", "8"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  const std::string log = d.log();
  EXPECT_NE(log.find("decode_buckets=true stable_decode_shapes=true split_prompt_attention=true sparse_decode_runs=8"),
            std::string::npos)
      << log;
  expect_serves_normally(d, "gpu-shapes");
}

// The split_run_tokens count of the engine_totals line a stopped worker logs; -1 if absent.
long split_run_tokens(Daemon& d) {
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(60)), std::optional<int>(0)) << d.log();
  static const std::regex re(R"(engine_totals:.* split_run_tokens=(\d+))");
  std::smatch m;
  const std::string text = d.log();
  return std::regex_search(text, m, re) ? std::stol(m[1]) : -1;
}

// Prompts attended as two halves of their rows (--split-prompt-attention on, the CUDA default)
// give the tokens they give attended whole. Prompts of a few hundred tokens, each a step of its
// own: the even ones are split (an odd one alone in its step has no row to borrow).
TEST(ServeLifecycle, PromptsAttendedInHalvesGiveTheSameTokens) {
  Daemon halves({"--model", kModelDir, "--split-prompt-attention", "on"});
  Daemon whole({"--model", kModelDir, "--split-prompt-attention", "off"});
  ASSERT_TRUE(halves.wait_healthy()) << halves.log();
  ASSERT_TRUE(whole.wait_healthy()) << whole.log();
  std::string text;
  for (int i = 0; i < 12; ++i) text += "The prince went to the window and looked out at the snow in the garden. ";
  int k = 0;
  for (const std::string& opening : {"Well, ", "And so ", "Then "}) {
    const std::string prompt = opening + text;
    const std::string id = "halves-" + std::to_string(k++);
    const auto a = execute(halves, greedy_body(id, prompt, 24));
    const auto b = execute(whole, greedy_body(id, prompt, 24));
    ASSERT_EQ(a.status, 200) << a.body;
    ASSERT_EQ(b.status, 200) << b.body;
    EXPECT_FALSE(a.text.empty());
    EXPECT_EQ(a.text, b.text) << opening;
  }
  EXPECT_GT(split_run_tokens(halves), 0) << halves.log();
  EXPECT_EQ(split_run_tokens(whole), 0) << whole.log();
}

// A worker warms up before it is healthy (--warm-up, on by default) and then serves as before, the
// warm-up's tokens in no metric a client reads (the engine's own counters: BatchEngineTest); with
// --warm-up off it does not warm up.
TEST(ServeLifecycle, AWorkerWarmsUpBeforeServingAndCountsOnlyRequests) {
  {
    Daemon d({"--model", kModelDir});
    ASSERT_TRUE(d.wait_healthy()) << d.log();
    EXPECT_NE(d.log().find("warm_up"), std::string::npos) << d.log();
    expect_serves_normally(d, "after-warm-up");
    const auto c = reference_cases()[0];
    EXPECT_EQ(metric_value(metrics_text(d), "rbees_generated_tokens_total").value_or(-1),
              static_cast<double>(c["greedy_ids"].size()));
  }
  Daemon cold({"--model", kModelDir, "--warm-up", "off"});
  ASSERT_TRUE(cold.wait_healthy()) << cold.log();
  EXPECT_EQ(cold.log().find("warm_up"), std::string::npos);
}

TEST(ServeLifecycle, ClientDisconnectStopsTheJob) {
  Daemon d({"--model", kModelDir, "--ignore-eos"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  const auto r = execute_streaming(d, greedy_body("gone-1", "The prince", 1000),
                                   [&](const std::string& acc) { return !has_token_event(acc); });
  EXPECT_NE(r.last_type, "end");
  // The job leaves the engine without running to its 1000 tokens.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  double running = -1;
  while (Clock::now() < deadline) {
    running = metric_value(metrics_text(d), "rbees_running_sequences").value_or(-1);
    if (running == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(running, 0);
  EXPECT_LT(metric_value(metrics_text(d), "rbees_generated_tokens_total").value_or(1e9), 1000);
  expect_serves_normally(d, "after-disconnect");
  EXPECT_NE(d.log().find("client_gone"), std::string::npos);
}

// With one sequence slot and one queue place, exactly two requests are held: one running and one
// waiting. Every further request is refused while they are, and both held ones run to the end.
TEST(ServeLifecycle, OverloadIsRefusedWithRetryAfterAndNothingHangs) {
  Daemon d({"--model", kModelDir, "--ignore-eos", "--max-seqs", "1", "--max-queue", "1"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  // Long enough (3.6 s of decoding here) to still run while the refusals below are made.
  constexpr int kRunningTokens = 1000;
  constexpr int kWaitingTokens = 50;
  constexpr int kRefused = 4;
  std::atomic<bool> running{false}, waiting{false};
  // Streams a job and raises `flag` at the first event named `event` (token: running; started: accepted).
  const auto held = [&d](const std::string& job_id, int tokens, const char* event, std::atomic<bool>& flag) {
    return std::async(std::launch::async, [&d, job_id, tokens, event, &flag] {
      return execute_streaming(d, greedy_body(job_id, "The prince", tokens), [&](const std::string& acc) {
        if (acc.find(std::string("event: ") + event) != std::string::npos) flag = true;
        return true;
      });
    });
  };
  const auto wait_for = [](const std::atomic<bool>& flag) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (!flag && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return flag.load();
  };
  auto first = held("load-running", kRunningTokens, "token", running);
  ASSERT_TRUE(wait_for(running)) << d.log();
  auto second = held("load-waiting", kWaitingTokens, "started", waiting);
  ASSERT_TRUE(wait_for(waiting)) << d.log();

  int refused = 0;
  for (int i = 0; i < kRefused; ++i) {
    auto res = d.client(120).Post("/execute", greedy_body("load-" + std::to_string(i), "The prince", 8).dump(),
                                  "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503) << "request " << i << " was not refused: " << res->body.substr(0, 200);
    if (res->status != 503) continue;
    ++refused;
    const std::string retry_after = res->get_header_value("Retry-After");
    ASSERT_FALSE(retry_after.empty());
    EXPECT_GT(std::stoi(retry_after), 0);
    const json body = json::parse(res->body);
    EXPECT_EQ(body["code"], "OVERLOADED");
    EXPECT_TRUE(body["message"].is_string());
    EXPECT_EQ(body["retriable"], true);
  }
  EXPECT_EQ(refused, kRefused);

  for (auto* job : {&first, &second}) ASSERT_EQ(job->wait_for(std::chrono::seconds(180)), std::future_status::ready);
  const auto r1 = first.get(), r2 = second.get();
  EXPECT_EQ(r1.last_type, "end") << r1.body.substr(0, 400);
  EXPECT_EQ(r1.end["tokens_out"], kRunningTokens);
  EXPECT_EQ(r2.last_type, "end") << r2.body.substr(0, 400);
  EXPECT_EQ(r2.end["tokens_out"], kWaitingTokens);
  expect_serves_normally(d, "after-load");
}

TEST(ServeLifecycle, SigtermLetsRunningJobsFinishWithinGrace) {
  Daemon d({"--model", kModelDir, "--ignore-eos", "--shutdown-grace", "60"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  std::atomic<bool> signalled{false};
  // Long enough (3.6 s of decoding here) that the listener is still open for the refusal.
  constexpr int kTokens = 1000;
  auto job = std::async(std::launch::async, [&] {
    return execute_streaming(d, greedy_body("drain-1", "The prince", kTokens), [&](const std::string& acc) {
      if (!signalled && has_token_event(acc)) {
        signalled = true;
        d.signal(SIGTERM);
      }
      return true;
    });
  });
  // Draining: health says so and new work is refused.
  std::optional<json> health;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && !health) {
    if (signalled) {
      auto res = d.client(5).Get("/health");
      if (res && res->status == 503) health = json::parse(res->body);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(health) << d.log();
  EXPECT_EQ((*health)["status"], "draining");
  expect_refused_while_draining(d);
  ASSERT_EQ(job.wait_for(std::chrono::seconds(120)), std::future_status::ready);
  const auto r = job.get();
  EXPECT_EQ(r.last_type, "end") << r.body;
  EXPECT_EQ(r.end["tokens_out"], kTokens);
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(60)), std::optional<int>(0)) << d.log();
}

TEST(ServeLifecycle, SigtermCancelsJobsPastTheGrace) {
  Daemon d({"--model", kModelDir, "--ignore-eos", "--shutdown-grace", "0.2"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  std::atomic<bool> signalled{false};
  const auto r = execute_streaming(d, greedy_body("drain-2", "The prince", 1000), [&](const std::string& acc) {
    if (!signalled && has_token_event(acc)) {
      signalled = true;
      d.signal(SIGTERM);
    }
    return true;
  });
  EXPECT_EQ(r.last_type, "error") << r.body;
  EXPECT_EQ(r.end["code"], "CANCELLED");
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(60)), std::optional<int>(0)) << d.log();
}

// A second signal ends the grace period at once.
TEST(ServeLifecycle, SecondSignalCancelsWithoutWaitingForTheGrace) {
  Daemon d({"--model", kModelDir, "--ignore-eos", "--shutdown-grace", "600"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  std::atomic<bool> signalled{false};
  auto job = std::async(std::launch::async, [&] {
    return execute_streaming(d, greedy_body("drain-3", "The prince", 1000), [&](const std::string& acc) {
      if (!signalled && has_token_event(acc)) {
        signalled = true;
        d.signal(SIGTERM);
      }
      return true;
    });
  });
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && d.log().find("draining") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_NE(d.log().find("draining"), std::string::npos) << d.log();
  // The job holds the drain open (600 s of grace), so new work must meet the refusal.
  expect_refused_while_draining(d);
  d.signal(SIGINT);
  ASSERT_EQ(job.wait_for(std::chrono::seconds(120)), std::future_status::ready);
  const auto r = job.get();
  EXPECT_EQ(r.last_type, "error") << r.body;
  EXPECT_EQ(r.end["code"], "CANCELLED");
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(60)), std::optional<int>(0)) << d.log();
}

TEST(ServeLifecycle, ApiKeyGuardsEveryEndpointButHealth) {
  char path[] = "/tmp/rbees-key-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string key = "s3cret-key-for-tests";
  ASSERT_EQ(write(fd, (key + "\n").data(), key.size() + 1), static_cast<ssize_t>(key.size() + 1));
  close(fd);
  for (const std::vector<std::string>& key_args :
       {std::vector<std::string>{"--api-key", key}, std::vector<std::string>{"--api-key-file", path}}) {
    std::vector<std::string> args = {"--model", kModelDir};
    args.insert(args.end(), key_args.begin(), key_args.end());
    Daemon d(args);
    ASSERT_TRUE(d.wait_healthy()) << d.log();
    struct Call {
      std::string method, path;
      json body;
      int ok_status;
    };
    const std::vector<Call> calls = {
        {"POST", "/execute", greedy_body("k1", "The prince", 2), 200},
        {"POST", "/cancel", {{"job_id", "k1"}}, 202},
        {"GET", "/v1/models", nullptr, 200},
        {"POST", "/v1/completions", {{"prompt", "The prince"}, {"max_tokens", 2}}, 200},
        {"POST",
         "/v1/chat/completions",
         {{"messages", {{{"role", "user"}, {"content", "Hello"}}}}, {"max_tokens", 2}},
         200},
        {"POST", "/tokenize", {{"content", "The prince"}}, 200},
        {"POST", "/detokenize", {{"tokens", {1, 2}}}, 200},
        {"GET", "/metrics", nullptr, 200},
    };
    for (const auto& call : calls) {
      for (const std::string& auth : {std::string(), std::string("Bearer wrong"), "Bearer " + key}) {
        httplib::Headers h;
        if (!auth.empty()) h.emplace("Authorization", auth);
        auto c = d.client(30);
        auto res =
            call.method == "GET" ? c.Get(call.path, h) : c.Post(call.path, h, call.body.dump(), "application/json");
        ASSERT_TRUE(res) << call.path;
        const bool right = auth == "Bearer " + key;
        EXPECT_EQ(res->status, right ? call.ok_status : 401) << call.method << " " << call.path << " auth=" << auth;
      }
    }
    auto health = d.client(5).Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
  }
  std::remove(path);
}

}  // namespace
}  // namespace rbees::app::testing
