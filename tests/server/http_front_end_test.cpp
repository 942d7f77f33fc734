// The event-loop front end's own limits, in process over a scripted engine: Content-Length judged
// the moment the headers end, per-request header deadlines, the connection cap, JSON nesting, and
// who may cancel an OpenAI job.
#include "server/http_server.hpp"

#include "app/raw_socket.hpp"
#include "fake_engine.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace rbees::server {
namespace {

using app::testing::RawConnection;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class HttpFrontEndTest : public ::testing::Test {
 protected:
  void start(ServerOptions options) {
    options.worker_id = "w-front";
    server_ = std::make_unique<HttpServer>(options, std::make_shared<WorkerMetrics>());
    port_ = server_->bind("127.0.0.1", 0);
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_->listen(); });
    engine_ = std::make_shared<testing::FakeEngine>();
    server_->set_engine(engine_);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Client client(std::optional<std::string> key = std::nullopt) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(std::chrono::seconds(30));
    if (key) c.set_bearer_token_auth(key->c_str());
    return c;
  }
  // Sends a request's header block only and returns the status answered, and how long it took.
  std::pair<int, milliseconds> head_only(const std::string& head) const {
    RawConnection c(port_);
    EXPECT_TRUE(c.ok());
    const auto start = Clock::now();
    c.send_all(head);
    c.read_until("\r\n\r\n", milliseconds(20000));
    return {c.status(), std::chrono::duration_cast<milliseconds>(Clock::now() - start)};
  }

  std::unique_ptr<HttpServer> server_;
  std::shared_ptr<testing::FakeEngine> engine_;
  std::thread thread_;
  int port_ = 0;
};

std::string post_head(const std::string& content_length) {
  return "POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + content_length +
         "\r\n\r\n";
}

TEST_F(HttpFrontEndTest, ContentLengthIsJudgedWhenTheHeadersEnd) {
  ServerOptions o;
  o.max_body_bytes = 4 * 1024 * 1024;
  o.read_timeout = std::chrono::seconds(10);
  start(o);
  for (const std::string bad : {"abc", "-1", "12x", "1 2"}) {
    const auto [status, took] = head_only(post_head(bad));
    EXPECT_EQ(status, 400) << "Content-Length: " << bad;
    EXPECT_LT(took.count(), 1000) << "Content-Length: " << bad;
  }
  for (const std::string big : {"4194305", "18446744073709551616", "99999999999999999999999"}) {
    const auto [status, took] = head_only(post_head(big));
    EXPECT_EQ(status, 413) << "Content-Length: " << big;
    EXPECT_LT(took.count(), 1000) << "Content-Length: " << big;
  }
  // The limit itself is allowed: the body is then awaited, not refused.
  RawConnection c(port_);
  c.send_all(post_head("4194304"));
  EXPECT_FALSE(c.read_until("HTTP/1.1", milliseconds(300)));
}

TEST_F(HttpFrontEndTest, HeadersHaveADeadlineFromTheirFirstByte) {
  ServerOptions o;
  o.header_timeout = milliseconds(800);
  o.idle_timeout_s = 30;
  start(o);
  RawConnection slow(port_);
  const std::string head = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  const auto start = Clock::now();
  bool closed = false;
  // One byte every 100 ms: each read makes progress, the request as a whole does not.
  for (int i = 0; i < 50 && !closed; ++i) {
    closed = !slow.send_all(std::string(1, i < static_cast<int>(head.size()) ? head[i] : 'a'));
    if (!closed) closed = slow.read_until_closed(milliseconds(100)).has_value();
  }
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  EXPECT_TRUE(closed) << "a slow header was never cut off";
  EXPECT_GE(took, 750);
  EXPECT_LT(took, 2500);
  EXPECT_EQ(client().Get("/health")->status, 200);
}

TEST_F(HttpFrontEndTest, AtTheConnectionCapTheOldestIdleOneIsClosed) {
  ServerOptions o;
  o.max_connections = 4;
  o.idle_timeout_s = 30;
  start(o);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<RawConnection>(port_));
    std::this_thread::sleep_for(milliseconds(20));  // in order of age
  }
  // A fifth connection is served; the oldest idle one makes room.
  EXPECT_EQ(client().Get("/health")->status, 200);
  EXPECT_TRUE(idle[0]->read_until_closed(milliseconds(2000)).has_value()) << "the oldest was kept";
  EXPECT_FALSE(idle[3]->read_until_closed(milliseconds(200)).has_value()) << "the newest was closed";
}

TEST_F(HttpFrontEndTest, DeeplyNestedJsonIsRefusedNamingTheLimit) {
  start({});
  auto res = client().Post("/execute", std::string(100000, '['), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  const json err = json::parse(res->body)["errors"][0];
  EXPECT_EQ(err["field"], "body");
  EXPECT_EQ(err["constraint"], "json");
  EXPECT_NE(err["message"].get<std::string>().find("nested more than 64"), std::string::npos) << err;
  // 64 levels are read (and refused only for not being a request).
  const std::string deep = "{\"job_id\":" + std::string(63, '[') + std::string(63, ']') + "}";
  auto ok = client().Post("/execute", deep, "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(json::parse(ok->body)["errors"][0]["field"], "job_id") << ok->body;
}

// Streams a /v1/completions job on a raw connection until its first chunk; returns the job id.
std::string start_openai_stream(RawConnection& c) {
  const std::string body = R"({"prompt":"hang","stream":true})";
  c.send_all("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body);
  if (!c.read_until("\"id\":\"", milliseconds(10000))) return "";
  const auto& r = c.received();
  const size_t at = r.find("\"id\":\"") + 6;
  return r.substr(at, r.find('"', at) - at);
}

TEST_F(HttpFrontEndTest, AnOpenAiJobIsCancelledOnlyByItsConnectionOrWithTheKey) {
  start({});
  RawConnection stream(port_);
  const std::string id = start_openai_stream(stream);
  ASSERT_EQ(id.rfind("cmpl-", 0), 0u) << stream.received();
  auto refused = client().Post("/cancel", json{{"job_id", id}}.dump(), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(json::parse(refused->body)["code"], "FORBIDDEN");
  // Closing its connection is how its owner cancels it.
  stream.shutdown_write();
  EXPECT_EQ(engine_->wait_finished(id), engine::FinishReason::cancelled);
}

TEST_F(HttpFrontEndTest, WithAnApiKeyAnyKeyHolderCancelsAnOpenAiJob) {
  ServerOptions o;
  o.api_key = "sekret";
  start(o);
  RawConnection stream(port_);
  const std::string body = R"({"prompt":"hang","stream":true})";
  stream.send_all("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekret\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(stream.read_until("\"id\":\"", milliseconds(10000))) << stream.received();
  const auto& r = stream.received();
  const size_t at = r.find("\"id\":\"") + 6;
  const std::string id = r.substr(at, r.find('"', at) - at);
  auto res = client(std::string("sekret")).Post("/cancel", json{{"job_id", id}}.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202);
  EXPECT_EQ(json::parse(res->body)["cancelled"], true);
  EXPECT_EQ(engine_->wait_finished(id), engine::FinishReason::cancelled);
  EXPECT_TRUE(stream.read_until("data: [DONE]", milliseconds(10000))) << stream.received();
}

// A client socket with a small receive window, so that a stream it does not read backs up soon.
int connect_small_window(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int window = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &window, sizeof window);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST_F(HttpFrontEndTest, AStalledReaderIsDroppedAtTheWriteTimeoutAndItsJobCancelled) {
  ServerOptions o;
  o.write_timeout = milliseconds(500);
  start(o);
  const int fd = connect_small_window(port_);
  ASSERT_GE(fd, 0);
  // Log-probabilities make each chunk a few hundred bytes.
  const std::string body = R"({"prompt":"hang","stream":true,"logprobs":5})";
  const std::string request =
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  std::string first;
  char buf[512];
  while (first.find("\"id\":\"") == std::string::npos ||
         first.find("\"", first.find("\"id\":\"") + 6) == std::string::npos) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    first.append(buf, static_cast<size_t>(n));
  }
  const size_t at = first.find("\"id\":\"") + 6;
  const std::string id = first.substr(at, first.find('"', at) - at);
  // Nothing more is read: once the socket buffers are full a write stays blocked past the timeout.
  const auto start = Clock::now();
  EXPECT_EQ(engine_->wait_finished(id), engine::FinishReason::cancelled);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 20000);
  close(fd);
}

}  // namespace
}  // namespace rbees::server
