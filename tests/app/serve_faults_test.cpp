// Faults injected into the real daemon: a client process killed with SIGKILL while its request is
// being prefilled or decoded, and SIGTERM while streams are running and queued. The worker must go
// on serving, free the sequence, and on SIGTERM end every stream with a terminal event and exit 0.
#include <atomic>
#include <future>

#include "app/daemon.hpp"

namespace rbees::app::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// curl streaming one /execute into a file, as a separate process the test can kill.
class CurlClient {
 public:
  CurlClient(const Daemon& d, const json& body) {
    char tmpl[] = "/tmp/rbees-curl-out-XXXXXX";
    close(mkstemp(tmpl));
    out_path_ = tmpl;
    std::vector<std::string> args = {
        "curl", "-sN",     "--max-time",        "300", "-H", "Content-Type: application/json", "-d", body.dump(),
        "-o",   out_path_, d.uri() + "/execute"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      execvp("curl", argv.data());
      _exit(127);
    }
  }
  ~CurlClient() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::remove(out_path_.c_str());
  }
  std::string output() const { return read_file(out_path_); }
  // Waits until the output holds `text`; false after `limit`.
  bool wait_for_output(const std::string& text, seconds limit) const {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (output().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return false;
  }
  void kill_hard() {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    killed_by_sigkill_ = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    pid_ = -1;
  }
  bool killed_by_sigkill() const { return killed_by_sigkill_; }

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  bool killed_by_sigkill_ = false;
};

double running_and_queued(const Daemon& d) {
  const std::string m = metrics_text(d);
  return metric_value(m, "rbees_running_sequences").value_or(-1) + metric_value(m, "rbees_queue_length").value_or(-1);
}

// Awaits nothing running or queued; false after `limit`.
bool wait_engine_idle(const Daemon& d, seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (running_and_queued(d) == 0) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

void expect_serves_normally(const Daemon& d, const std::string& job_id) {
  const auto c = reference_cases()[0];
  const auto r = execute(d, greedy_body(job_id, c["prompt"], static_cast<int>(c["greedy_ids"].size())));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.text, c["greedy_text"].get<std::string>());
}

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ServeFaults, ClientKilledDuringDecodeFreesItsSequence) {
  Daemon d({"--model", kModelDir, "--ignore-eos"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  constexpr int kTokens = 900;
  {
    CurlClient curl(d, greedy_body("killed-decode", "The prince", kTokens));
    ASSERT_TRUE(curl.wait_for_output("event: token", seconds(60))) << curl.output() << d.log();
    curl.kill_hard();
    ASSERT_TRUE(curl.killed_by_sigkill());
  }
  ASSERT_TRUE(wait_engine_idle(d, seconds(60))) << "the killed client's sequence was never freed\n" << d.log();
  const double generated = metric_value(metrics_text(d), "rbees_generated_tokens_total").value_or(-1);
  EXPECT_GT(generated, 0);
  EXPECT_LT(generated, kTokens) << "the job ran to its end for nobody";
  EXPECT_EQ(count_of(d.log(), "client_gone"), 1) << d.log();
  expect_serves_normally(d, "after-kill-decode");
}

// A prompt that nearly fills the context, evaluated 4 tokens per step: the client is killed once
// the worker has taken the request and before any token has reached it.
TEST(ServeFaults, ClientKilledDuringPrefillFreesItsSequence) {
  Daemon d({"--model", kModelDir, "--ignore-eos", "--prefill-chunk", "4"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  std::string prompt;
  const auto cases = reference_cases();
  for (int i = 0; i < 16; ++i) prompt += cases[i % cases.size()]["greedy_text"].get<std::string>() + "\n";
  auto tok = d.client().Post("/tokenize", json{{"content", prompt}}.dump(), "application/json");
  ASSERT_TRUE(tok);
  const size_t prompt_tokens = json::parse(tok->body)["tokens"].size();
  const int64_t context = json::parse(d.client().Get("/health")->body)["context_length"];
  ASSERT_GT(prompt_tokens, 600u);
  ASSERT_LT(static_cast<int64_t>(prompt_tokens) + 64, context);
  constexpr int kTokens = 64;
  bool token_before_kill = false;
  {
    CurlClient curl(d, greedy_body("killed-prefill", prompt, kTokens));
    ASSERT_TRUE(curl.wait_for_output("event: started", seconds(60))) << curl.output() << d.log();
    curl.kill_hard();
    ASSERT_TRUE(curl.killed_by_sigkill());
    token_before_kill = curl.output().find("event: token") != std::string::npos;
  }
  EXPECT_FALSE(token_before_kill) << "the prefill was over before the kill";
  ASSERT_TRUE(wait_engine_idle(d, seconds(60))) << "the killed client's sequence was never freed\n" << d.log();
  // The worker notices the closed connection at its first writes after the prefill.
  EXPECT_LT(metric_value(metrics_text(d), "rbees_generated_tokens_total").value_or(1e9), kTokens);
  EXPECT_EQ(count_of(d.log(), "client_gone"), 1) << d.log();
  expect_serves_normally(d, "after-kill-prefill");
}

struct StreamEnd {
  std::string last_type;
  json end;
  int status = 0;
  std::string body;
};

// Streams started together on a worker with 4 slots (the rest queued), then SIGTERM once each
// running one has produced a token.
struct Progress {
  std::atomic<int> started{0};      // admitted: the `started` event arrived
  std::atomic<int> with_tokens{0};  // running: a token arrived
};

std::vector<std::future<StreamEnd>> start_streams(Daemon& d, int count, int tokens, Progress& progress) {
  std::vector<std::future<StreamEnd>> streams;
  for (int i = 0; i < count; ++i) {
    streams.push_back(std::async(std::launch::async, [&d, &progress, i, tokens] {
      bool seen_start = false, counted = false;
      auto on_chunk = [&](const std::string& acc) {
        if (!seen_start && acc.find("event: started") != std::string::npos) {
          seen_start = true;
          ++progress.started;
        }
        if (!counted && acc.find("event: token") != std::string::npos) {
          counted = true;
          ++progress.with_tokens;
        }
        return true;
      };
      const auto r = execute_streaming(d, greedy_body("term-" + std::to_string(i), "The prince", tokens), on_chunk);
      return StreamEnd{r.last_type, r.end, r.status, r.body};
    }));
  }
  return streams;
}

bool wait_count(const std::atomic<int>& n, int at_least, seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline && n < at_least) std::this_thread::sleep_for(milliseconds(5));
  return n >= at_least;
}

TEST(ServeFaults, SigtermUnderLoadDrainsEveryStream) {
  Daemon d({"--model", kModelDir, "--ignore-eos", "--max-seqs", "4", "--max-queue", "8", "--shutdown-grace", "120"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  constexpr int kStreams = 8;  // 4 running, 4 queued
  constexpr int kTokens = 100;
  Progress progress;
  auto streams = start_streams(d, kStreams, kTokens, progress);
  ASSERT_TRUE(wait_count(progress.started, kStreams, seconds(60))) << d.log();
  ASSERT_TRUE(wait_count(progress.with_tokens, 4, seconds(60))) << d.log();
  const auto signalled = Clock::now();
  d.signal(SIGTERM);
  for (auto& f : streams) {
    ASSERT_EQ(f.wait_for(seconds(180)), std::future_status::ready);
    const auto s = f.get();
    ASSERT_EQ(s.status, 200) << s.body;
    // Running and queued alike finish within the grace.
    EXPECT_EQ(s.last_type, "end") << s.body;
    EXPECT_EQ(s.end["tokens_out"], kTokens);
  }
  EXPECT_EQ(d.wait_exit(seconds(60)), std::optional<int>(0)) << d.log();
  std::cout << "[ drain ] " << kStreams << " streams ended and the worker exited "
            << std::chrono::duration<double>(Clock::now() - signalled).count() << " s after SIGTERM\n";
}

// Streams still generating when the grace runs out are cancelled, each with a terminal event, and
// the worker exits in time. Three waves of 900-token streams on 4 slots outlast the 2 s grace on any
// machine this runs on, whatever the first wave manages: the last wave at least is cancelled.
TEST(ServeFaults, SigtermUnderLoadPastTheGraceCancelsEveryStreamAndExitsInTime) {
  constexpr double kGrace = 2.0;
  Daemon d({"--model", kModelDir, "--ignore-eos", "--max-seqs", "4", "--max-queue", "8", "--shutdown-grace", "2"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  constexpr int kStreams = 12;  // 4 running, 8 queued
  constexpr int kTokens = 900;
  Progress progress;
  auto streams = start_streams(d, kStreams, kTokens, progress);
  ASSERT_TRUE(wait_count(progress.started, kStreams, seconds(60))) << d.log();
  ASSERT_TRUE(wait_count(progress.with_tokens, 4, seconds(60))) << d.log();
  const auto signalled = Clock::now();
  d.signal(SIGTERM);
  int cancelled = 0;
  for (auto& f : streams) {
    ASSERT_EQ(f.wait_for(seconds(120)), std::future_status::ready);
    const auto s = f.get();
    ASSERT_EQ(s.status, 200) << s.body;
    // A terminal event, not a cut stream: the whole continuation, or the cancellation.
    if (s.last_type == "end") {
      EXPECT_EQ(s.end["tokens_out"], kTokens) << s.body;
    } else {
      ASSERT_EQ(s.last_type, "error") << s.body;
      EXPECT_EQ(s.end["code"], "CANCELLED");
      ++cancelled;
    }
  }
  EXPECT_GE(cancelled, 4);
  const auto code = d.wait_exit(seconds(60));
  const double took = std::chrono::duration<double>(Clock::now() - signalled).count();
  EXPECT_EQ(code, std::optional<int>(0)) << d.log();
  // The grace, then at most the bounded wait for streams to write their last event (5 s) and the
  // stop; generous for a loaded machine.
  EXPECT_LT(took, kGrace + 20) << d.log();
  std::cout << "[ drain ] past the grace: " << cancelled << " of " << kStreams << " streams cancelled, exit after "
            << took << " s\n";
}

}  // namespace
}  // namespace rbees::app::testing
