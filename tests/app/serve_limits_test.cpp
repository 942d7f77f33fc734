// The HTTP limits that keep one client from holding the worker: body and header sizes, silent and
// stalled connections, and the per-request time limit, through the real daemon.
#include <future>
#include <latch>

#include "app/daemon.hpp"
#include "app/raw_socket.hpp"

namespace rbees::app::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Whether /health answers 200 within `limit` on a fresh connection, and how long it took.
std::optional<milliseconds> health_latency(const Daemon& d, seconds limit = seconds(10)) {
  const auto start = Clock::now();
  auto c = d.client(static_cast<int>(limit.count()));
  auto res = c.Get("/health");
  if (!res || res->status != 200) return std::nullopt;
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

void expect_serves_normally(const Daemon& d, const std::string& job_id) {
  const auto c = reference_cases()[0];
  const auto r = execute(d, greedy_body(job_id, c["prompt"], static_cast<int>(c["greedy_ids"].size())));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.text, c["greedy_text"].get<std::string>());
}

std::string raw_post(const std::string& path, const std::string& body, const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(ServeLimits, OversizedBodyIs413NamingTheLimit) {
  Daemon d({"--model", kModelDir, "--max-body-size", "65536"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  const std::string big = json{{"job_id", "big"}, {"prompt", std::string(70000, 'x')}, {"max_tokens", 4}}.dump();

  auto res = d.client(30).Post("/execute", big, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  const json body = json::parse(res->body);
  EXPECT_EQ(body["code"], "INVALID_REQUEST");
  EXPECT_EQ(body["retriable"], false);
  EXPECT_NE(body["message"].get<std::string>().find("65536 bytes (--max-body-size)"), std::string::npos) << body;

  // OpenAI endpoints answer in OpenAI's error shape.
  const std::string big_openai = json{{"prompt", std::string(70000, 'x')}, {"max_tokens", 4}}.dump();
  auto openai = d.client(30).Post("/v1/completions", big_openai, "application/json");
  ASSERT_TRUE(openai);
  EXPECT_EQ(openai->status, 413);
  const json err = json::parse(openai->body)["error"];
  EXPECT_EQ(err["type"], "invalid_request_error");
  EXPECT_NE(err["message"].get<std::string>().find("--max-body-size"), std::string::npos) << err;

  // A chunked body has no length to check up front: it is cut off once past the limit.
  RawConnection chunked(d.port());
  ASSERT_TRUE(chunked.ok());
  std::string request =
      "POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) request += "2000\r\n" + std::string(0x2000, ' ') + "\r\n";
  request += "0\r\n\r\n";
  chunked.send_all(request);  // the server may close before taking it all
  ASSERT_TRUE(chunked.read_until_closed(milliseconds(30000))) << chunked.received();
  EXPECT_EQ(chunked.status(), 413) << chunked.received();
  EXPECT_NE(chunked.body().find("--max-body-size"), std::string::npos) << chunked.received();

  // Nor has a body that runs to the end of the connection (no length, Connection: close).
  RawConnection unframed(d.port());
  ASSERT_TRUE(unframed.ok());
  unframed.send_all(
      "POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n" +
      std::string(80000, ' '));
  unframed.shutdown_write();
  ASSERT_TRUE(unframed.read_until_closed(milliseconds(30000))) << unframed.received();
  EXPECT_EQ(unframed.status(), 413) << unframed.received();

  // A body just under the limit is read and judged on its content.
  const std::string under = json{{"job_id", "under"}, {"prompt", std::string(60000, 'x')}, {"max_tokens", 4}}.dump();
  ASSERT_LT(under.size(), 65536u);
  auto ok = d.client(30).Post("/execute", under, "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 400);  // the prompt is over its own limit (code points); the body was read
  EXPECT_EQ(json::parse(ok->body)["errors"][0]["field"], "prompt") << ok->body;

  const std::string metrics = metrics_text(d);
  EXPECT_NE(metrics.find("rbees_requests_total{endpoint=\"/execute\",outcome=\"too_large\"} 3"), std::string::npos)
      << metrics;
  expect_serves_normally(d, "after-413");
}

TEST(ServeLimits, OversizedHeadersAreRefused) {
  Daemon d({"--model", kModelDir, "--max-header-size", "16384", "--idle-timeout", "1"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  const std::string body = greedy_body("h", "The prince", 2).dump();

  {  // One header line beyond cpp-httplib's 8192 bytes.
    RawConnection c(d.port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_all(raw_post("/execute", body, "X-Long: " + std::string(9000, 'a') + "\r\n")));
    ASSERT_TRUE(c.read_until_closed(milliseconds(30000))) << c.received();
    EXPECT_EQ(c.status(), 400) << c.received();
    const json err = json::parse(c.body());
    EXPECT_EQ(err["code"], "INVALID_REQUEST");
    EXPECT_NE(err["message"].get<std::string>().find("8192 bytes"), std::string::npos) << err;
  }
  {  // Many lines, each short, beyond --max-header-size together: refused before the body is read.
    std::string headers;
    for (int i = 0; i < 20; ++i) headers += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'b') + "\r\n";
    RawConnection c(d.port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_all(raw_post("/execute", body, headers)));
    ASSERT_TRUE(c.read_until_closed(milliseconds(30000))) << c.received();
    EXPECT_EQ(c.status(), 431) << c.received();
    const json err = json::parse(c.body());
    EXPECT_EQ(err["code"], "INVALID_REQUEST");
    EXPECT_NE(err["message"].get<std::string>().find("16384 bytes (--max-header-size)"), std::string::npos) << err;
  }
  {  // The request line beyond 8192 bytes.
    RawConnection c(d.port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_all("GET /health?" + std::string(9000, 'q') +
                           " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(c.read_until_closed(milliseconds(30000))) << c.received();
    EXPECT_EQ(c.status(), 414) << c.received();
    EXPECT_NE(c.body().find("8192 bytes"), std::string::npos) << c.received();
  }
  {  // Under both limits (12 lines of 1000 bytes): served.
    std::string headers;
    for (int i = 0; i < 12; ++i) headers += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'c') + "\r\n";
    RawConnection c(d.port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_all(raw_post("/execute", body, headers)));
    ASSERT_TRUE(c.read_until_closed(milliseconds(60000))) << c.received();
    EXPECT_EQ(c.status(), 200) << c.received();
    EXPECT_NE(c.body().find("event: end"), std::string::npos) << c.received();
  }
  expect_serves_normally(d, "after-headers");
}

// A connection that never sends a byte holds one HTTP thread until --idle-timeout, then is closed;
// others are answered meanwhile, even when silent connections take every thread but one.
TEST(ServeLimits, SilentConnectionsAreDroppedAndDoNotBlockOthers) {
  Daemon d({"--model", kModelDir, "--idle-timeout", "2", "--http-threads", "4"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  std::vector<std::unique_ptr<RawConnection>> silent;
  for (int i = 0; i < 3; ++i) {
    silent.push_back(std::make_unique<RawConnection>(d.port()));
    ASSERT_TRUE(silent.back()->ok());
  }
  // Three threads wait on silence; the fourth answers.
  const auto latency = health_latency(d);
  ASSERT_TRUE(latency);
  EXPECT_LT(latency->count(), 1500) << "a silent connection delayed /health";
  for (auto& c : silent) {
    const auto closed_after = c->read_until_closed(milliseconds(30000));
    ASSERT_TRUE(closed_after) << "a silent connection was never dropped";
    EXPECT_GE(closed_after->count(), 1900);  // not before the 2 s idle timeout
    EXPECT_TRUE(c->received().empty()) << c->received();
  }

  // Silent connections on every thread: a new request waits for one of them to be dropped, no longer.
  silent.clear();
  for (int i = 0; i < 4; ++i) {
    silent.push_back(std::make_unique<RawConnection>(d.port()));
    ASSERT_TRUE(silent.back()->ok());
  }
  const auto blocked = health_latency(d, seconds(30));
  ASSERT_TRUE(blocked) << "/health was not answered once the silent connections timed out";
  EXPECT_LT(blocked->count(), 15000);
  expect_serves_normally(d, "after-silence");
}

// A client that starts a request and stalls is dropped after --read-timeout.
TEST(ServeLimits, StalledRequestIsDroppedAfterTheReadTimeout) {
  Daemon d({"--model", kModelDir, "--read-timeout", "1"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  {  // Headers begun, never finished.
    RawConnection c(d.port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_all("POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    const auto closed_after = c.read_until_closed(milliseconds(30000));
    ASSERT_TRUE(closed_after) << "a stalled request was never dropped";
    EXPECT_GE(closed_after->count(), 900);
  }
  {  // Body announced, half sent.
    RawConnection c(d.port());
    ASSERT_TRUE(c.ok());
    const std::string body = greedy_body("stall", "The prince", 4).dump();
    std::string request = raw_post("/execute", body);
    request.resize(request.size() - body.size() / 2);
    ASSERT_TRUE(c.send_all(request));
    const auto closed_after = c.read_until_closed(milliseconds(30000));
    ASSERT_TRUE(closed_after) << "a stalled body was never dropped";
    EXPECT_GE(closed_after->count(), 900);
    EXPECT_EQ(c.received().find("event: started"), std::string::npos) << "a half body was executed";
  }
  expect_serves_normally(d, "after-stall");
}

// Requests past --request-timeout end with TIMEOUT, whether they were running or still queued;
// one sequence slot and 1000-token jobs make the later ones wait well past the limit.
TEST(ServeLimits, RequestTimeoutEndsJobsWithTimeout) {
  Daemon d({"--model", kModelDir, "--ignore-eos", "--max-seqs", "1", "--max-queue", "8", "--request-timeout", "0.2"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  // One at a time (--max-seqs 1): the first request's 900 tokens take longer than 0.2 s even where
  // the default model decodes at several thousand tokens a second, and the others wait behind it.
  constexpr int kStreams = 4;
  std::vector<std::future<ExecuteResult>> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(std::async(std::launch::async, [&d, i] {
      return execute(d, greedy_body("slow-" + std::to_string(i), "The prince", 900));
    }));
  }
  // The OpenAI endpoints: non-streaming (an error response) and streaming (an error chunk).
  auto completion = std::async(std::launch::async, [&d] {
    return d.client(120).Post("/v1/completions", json{{"prompt", "The war"}, {"max_tokens", 900}}.dump(),
                              "application/json");
  });
  int timed_out = 0;
  for (auto& f : streams) {
    ASSERT_EQ(f.wait_for(seconds(120)), std::future_status::ready);
    const auto r = f.get();
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(r.last_type, "error") << r.body;
    EXPECT_EQ(r.end["code"], "TIMEOUT");
    EXPECT_EQ(r.end["retriable"], true);
    EXPECT_NE(r.end["message"].get<std::string>().find("--request-timeout 0.2 s"), std::string::npos) << r.end;
    ++timed_out;
  }
  EXPECT_EQ(timed_out, kStreams);
  ASSERT_EQ(completion.wait_for(seconds(120)), std::future_status::ready);
  const auto res = completion.get();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_NE(json::parse(res->body)["error"]["message"].get<std::string>().find("--request-timeout"), std::string::npos)
      << res->body;

  // Nothing is left running, and a short request within the limit is served.
  const auto deadline = Clock::now() + seconds(30);
  double running = -1;
  while (Clock::now() < deadline) {
    const std::string m = metrics_text(d);
    running =
        metric_value(m, "rbees_running_sequences").value_or(-1) + metric_value(m, "rbees_queue_length").value_or(-1);
    if (running == 0) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(running, 0);
  const auto r = execute(d, greedy_body("short", "The prince", 2));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.last_type, "end") << r.body;
  EXPECT_NE(d.log().find("request_timeout"), std::string::npos);
}

// A burst of connections is queued by the kernel until accepted, not dropped: with cpp-httplib's
// backlog of 5 a part of such a burst waited a second each for a SYN retransmit.
TEST(ServeLimits, BurstOfConnectionsIsAcceptedWithoutRetransmits) {
  Daemon d({"--model", kModelDir});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  constexpr int kBurst = 128;
  std::latch go(kBurst);
  std::vector<std::future<int64_t>> connects;
  for (int i = 0; i < kBurst; ++i) {
    connects.push_back(std::async(std::launch::async, [&] {
      go.arrive_and_wait();
      const auto start = Clock::now();
      RawConnection c(d.port());
      const auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
      return c.ok() ? ms : int64_t{-1};
    }));
  }
  int64_t worst = 0;
  for (auto& f : connects) {
    const int64_t ms = f.get();
    ASSERT_GE(ms, 0) << "a connection was refused";
    worst = std::max(worst, ms);
  }
  EXPECT_LT(worst, 900) << "a connection waited for a SYN retransmit";
  EXPECT_TRUE(health_latency(d));
}

// A second worker on a port in use fails to start instead of sharing the port (cpp-httplib's
// default SO_REUSEPORT let it bind and take part of the first one's connections).
TEST(ServeLimits, SecondWorkerOnAPortInUseExitsOne) {
  Daemon d({"--model", kModelDir});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  char log_path[] = "/tmp/rbees-second-XXXXXX";
  close(mkstemp(log_path));
  const std::string command = "timeout 60 " + std::string(RBEES_BINARY) + " serve --threads 1 --model " + kModelDir +
                              " --port " + std::to_string(d.port()) + " 2>" + log_path;
  const int status = std::system(command.c_str());
  const std::string log = read_file(log_path);
  std::remove(log_path);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << log;
  EXPECT_NE(log.find("listen_failed"), std::string::npos) << log;
  EXPECT_TRUE(health_latency(d));
}

}  // namespace
}  // namespace rbees::app::testing
