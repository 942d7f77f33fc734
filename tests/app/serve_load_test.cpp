// Load through the real daemon: more concurrent clients than sequence slots and queue places
// together, mixing clients that read normally, read slowly, cancel mid-stream and vanish mid-stream.
// Every request must end (bounded), none may be lost, /health must answer throughout, and the
// worker must be whole afterwards.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <map>
#include <mutex>

#include "app/daemon.hpp"

namespace rbees::app::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kMaxSeqs = 4;
constexpr int kMaxQueue = 4;
constexpr int kClients = 24;  // > kMaxSeqs + kMaxQueue
constexpr int kRounds = 3;    // served requests per client, one after another
// A refused request is tried again after kRetryPause, until kLoadLimit has passed since the start.
constexpr auto kRetryPause = std::chrono::milliseconds(150);
constexpr auto kLoadLimit = std::chrono::seconds(300);
constexpr int kLongTokens = 300;

enum class Kind { normal, slow_reader, canceller, vanisher };

const char* name_of(Kind k) {
  switch (k) {
    case Kind::normal: return "normal";
    case Kind::slow_reader: return "slow_reader";
    case Kind::canceller: return "canceller";
    case Kind::vanisher: return "vanisher";
  }
  return "?";
}

// 12 normal, 4 of each other kind, interleaved so that every kind arrives in the first burst.
Kind kind_of(int client) {
  switch (client % 6) {
    case 1: return Kind::slow_reader;
    case 3: return Kind::canceller;
    case 5: return Kind::vanisher;
    default: return Kind::normal;
  }
}

struct Outcome {
  Kind kind = Kind::normal;
  std::string job_id;
  size_t reference = 0;   // which reference case (normal and slow readers)
  bool answered = false;  // an HTTP response arrived (status line and headers)
  int status = 0;
  std::string retry_after;
  std::string raw;        // the body as received
  ExecuteResult result;   // parsed (200 only)
  int cancel_status = 0;  // cancellers
  double seconds = 0;
};

int tokens_of(const json& reference_case) {
  return static_cast<int>(reference_case["greedy_ids"].size());
}

bool has_token_event(const std::string& body) {
  return body.find("event: token") != std::string::npos;
}

// One /execute, read as it arrives; on_chunk(accumulated body) returns false to drop the connection.
Outcome stream_execute(const Daemon& d, const json& body, int rcvbuf,
                       const std::function<bool(const std::string&)>& on_chunk) {
  Outcome o;
  const auto start = Clock::now();
  auto c = d.client(60);
  if (rcvbuf > 0) {
    // A small receive window, so that the worker's writes to this client really wait on it.
    c.set_socket_options([rcvbuf](int fd) { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); });
  }
  httplib::Request req;
  req.method = "POST";
  req.path = "/execute";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    o.raw.append(data, len);
    return on_chunk(o.raw);
  };
  auto res = c.send(req);
  o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (res) {
    o.answered = true;
    o.status = res->status;
    o.retry_after = res->get_header_value("Retry-After");
  } else if (!o.raw.empty()) {
    // Dropped by the client itself (a vanisher): the response had begun as a stream.
    o.answered = o.raw.find("event: started") != std::string::npos;
    o.status = o.answered ? 200 : 0;
  }
  o.result = collect(o.status, o.raw);
  return o;
}

// The part of a prompt's greedy continuation that batching cannot change: up to the first step whose
// two best log-probabilities (alone) are within kTie. Batches of other shapes may change logits in
// their last bits, enough to flip such a near tie (reference case 2 has one of 0.01 at its 44th
// token); past it the continuation is not determined.
std::string determined_prefix(const Daemon& d, const std::string& prompt, int max_tokens, const std::string& whole) {
  constexpr double kTie = 0.05;
  const json body = {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}, {"logprobs", 2}};
  auto res = d.client().Post("/v1/completions", body.dump(), "application/json");
  if (!res || res->status != 200) return whole;
  const json lp = json::parse(res->body)["choices"][0]["logprobs"];
  std::string prefix;
  for (size_t t = 0; t < lp["tokens"].size(); ++t) {
    std::vector<double> top;
    for (const auto& [tok, v] : lp["top_logprobs"][t].items()) top.push_back(v.get<double>());
    std::sort(top.rbegin(), top.rend());
    if (top.size() > 1 && top[0] - top[1] < kTie) return prefix;
    prefix += lp["tokens"][t].get<std::string>();
  }
  return whole;
}

// The continuation is the reference's, to the extent batching leaves it determined.
void expect_continuation(const std::string& text, const std::string& reference, const std::string& determined) {
  if (determined == reference) {
    EXPECT_EQ(text, reference);
  } else {
    EXPECT_EQ(text.substr(0, determined.size()), determined);
  }
}

struct HealthLog {
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  std::atomic<int64_t> worst_ms{0};
};

TEST(ServeLoad, MixedClientsBeyondSlotsAndQueueAllEndAndNothingLeaks) {
  Daemon d({"--model", kModelDir, "--max-seqs", std::to_string(kMaxSeqs), "--max-queue", std::to_string(kMaxQueue)});
  ASSERT_TRUE(d.wait_healthy()) << d.log();

  // Single-request references, from this worker with nothing else running.
  const auto cases = reference_cases();
  std::vector<std::string> reference, determined;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto r = execute(d, greedy_body("ref-" + std::to_string(i), cases[i]["prompt"], tokens_of(cases[i])));
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(r.last_type, "end");
    EXPECT_EQ(r.text, cases[i]["greedy_text"].get<std::string>());
    reference.push_back(r.text);
    determined.push_back(determined_prefix(d, cases[i]["prompt"], tokens_of(cases[i]), r.text));
  }

  HealthLog health;
  std::atomic<bool> load_done{false};
  auto poller = std::async(std::launch::async, [&] {
    while (!load_done) {
      const auto start = Clock::now();
      auto res = d.client(10).Get("/health");
      const auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
      if (res && res->status == 200) {
        ++health.answered;
      } else {
        ++health.failed;
      }
      if (ms > health.worst_ms) health.worst_ms = ms;
      std::this_thread::sleep_for(milliseconds(50));
    }
  });

  std::latch go(kClients);
  std::vector<std::future<std::vector<Outcome>>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::async(std::launch::async, [&, c] {
      std::vector<Outcome> outcomes;
      const Kind kind = kind_of(c);
      go.arrive_and_wait();
      const auto give_up_at = Clock::now() + kLoadLimit;
      for (int round = 0, tries = 0; round < kRounds && Clock::now() < give_up_at; ++tries) {
        const std::string job_id =
            "load-" + std::to_string(c) + "-" + std::to_string(round) + "-" + std::to_string(tries);
        const size_t ref = static_cast<size_t>(c + round) % cases.size();
        Outcome o;
        switch (kind) {
          case Kind::normal:
            o = stream_execute(d, greedy_body(job_id, cases[ref]["prompt"], tokens_of(cases[ref])), 0,
                               [](const std::string&) { return true; });
            break;
          case Kind::slow_reader:
            o = stream_execute(d, greedy_body(job_id, cases[ref]["prompt"], tokens_of(cases[ref])), 2048,
                               [](const std::string&) {
                                 std::this_thread::sleep_for(milliseconds(25));
                                 return true;
                               });
            break;
          case Kind::canceller: {
            int cancel_status = 0;
            o = stream_execute(d, greedy_body(job_id, "The prince", kLongTokens), 0, [&](const std::string& acc) {
              if (cancel_status == 0 && has_token_event(acc)) {
                auto res = d.client(30).Post("/cancel", json{{"job_id", job_id}}.dump(), "application/json");
                cancel_status = res ? res->status : -1;
              }
              return true;
            });
            o.cancel_status = cancel_status;
            break;
          }
          case Kind::vanisher:
            o = stream_execute(d, greedy_body(job_id, "Natasha", kLongTokens), 0,
                               [](const std::string& acc) { return !has_token_event(acc); });
            break;
        }
        o.kind = kind;
        o.job_id = job_id;
        o.reference = ref;
        const bool refused = o.status == 503;
        outcomes.push_back(std::move(o));
        if (refused) {
          std::this_thread::sleep_for(kRetryPause);
        } else {
          ++round;
        }
      }
      return outcomes;
    }));
  }

  std::vector<Outcome> all;
  for (auto& f : clients) {
    ASSERT_EQ(f.wait_for(kLoadLimit + seconds(120)), std::future_status::ready) << "a client hung";
    for (auto& o : f.get()) all.push_back(std::move(o));
  }
  load_done = true;
  ASSERT_EQ(poller.wait_for(seconds(30)), std::future_status::ready);

  std::map<std::string, int> tally;  // "<kind> <outcome>"
  int ok = 0, refused = 0, vanished_mid_stream = 0;
  double slowest = 0;
  for (const auto& o : all) {
    SCOPED_TRACE(o.job_id + " (" + name_of(o.kind) + "): " + o.raw.substr(0, 400));
    slowest = std::max(slowest, o.seconds);
    ASSERT_TRUE(o.answered) << "no response";
    if (o.status == 503) {
      ++refused;
      ++tally[std::string(name_of(o.kind)) + " 503"];
      EXPECT_FALSE(o.retry_after.empty());
      const json body = json::parse(o.raw);
      EXPECT_EQ(body["code"], "OVERLOADED");
      EXPECT_EQ(body["retriable"], true);
      continue;
    }
    ASSERT_EQ(o.status, 200);
    ++ok;
    switch (o.kind) {
      case Kind::normal:
      case Kind::slow_reader:
        // Complete and correct: the same text as alone.
        EXPECT_EQ(o.result.last_type, "end");
        expect_continuation(o.result.text, reference[o.reference], determined[o.reference]);
        EXPECT_EQ(o.result.end["tokens_out"], tokens_of(cases[o.reference]));
        ++tally[std::string(name_of(o.kind)) + " end"];
        break;
      case Kind::canceller:
        EXPECT_EQ(o.cancel_status, 202);
        ASSERT_TRUE(o.result.last_type == "error" || o.result.last_type == "end");
        if (o.result.last_type == "error") EXPECT_EQ(o.result.end["code"], "CANCELLED");
        ++tally[std::string(name_of(o.kind)) + " " + o.result.last_type];
        break;
      case Kind::vanisher:
        EXPECT_TRUE(o.result.last_type == "token" || o.result.last_type == "started") << o.result.last_type;
        ++vanished_mid_stream;
        ++tally["vanisher closed"];
        break;
    }
  }
  std::string summary;
  for (const auto& [k, n] : tally) summary += k + "=" + std::to_string(n) + " ";
  std::cout << "[ load ] " << all.size() << " requests: " << ok << " streamed, " << refused << " refused; " << summary
            << "; slowest " << slowest << " s; /health " << health.answered << " answered, " << health.failed
            << " failed, worst " << health.worst_ms << " ms\n";
  EXPECT_GT(refused, 0) << "the load never went past the slots and the queue";
  // Every client was served its rounds (refusals were retried).
  EXPECT_EQ(ok, kClients * kRounds);

  // /health answered throughout.
  EXPECT_EQ(health.failed, 0);
  EXPECT_GT(health.answered, 5);
  EXPECT_LT(health.worst_ms, 5000);

  // The worker counted what the clients saw: nothing lost on either side.
  const std::string metrics = metrics_text(d);
  const auto count = [&](const std::string& outcome) {
    return metric_value(metrics, "rbees_requests_total{endpoint=\"/execute\",outcome=\"" + outcome + "\"}").value_or(0);
  };
  EXPECT_EQ(count("ok"), ok + static_cast<double>(cases.size()));  // and the references
  EXPECT_EQ(count("unavailable"), refused);

  // Nothing left running or queued: vanished and cancelled jobs were freed.
  const auto deadline = Clock::now() + seconds(60);
  double left = -1;
  while (Clock::now() < deadline) {
    const std::string m = metrics_text(d);
    left = metric_value(m, "rbees_running_sequences").value_or(-1) + metric_value(m, "rbees_queue_length").value_or(-1);
    if (left == 0) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(left, 0) << metrics_text(d);
  if (vanished_mid_stream > 0) EXPECT_NE(d.log().find("client_gone"), std::string::npos);

  // And it still serves every reference whole.
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto r = execute(d, greedy_body("after-" + std::to_string(i), cases[i]["prompt"], tokens_of(cases[i])));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.last_type, "end");
    expect_continuation(r.text, reference[i], determined[i]);
  }
}

}  // namespace
}  // namespace rbees::app::testing
