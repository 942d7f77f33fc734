// Methods and cross-origin access on the front end, in process over a scripted engine: 405 with
// Allow for a known path asked with another method, OPTIONS on every endpoint, --cors-origin's
// preflights and Access-Control-Allow-Origin on plain and streamed answers, requests without a body.
#include "server/cors.hpp"
#include "server/http_server.hpp"

#include "app/raw_socket.hpp"
#include "fake_engine.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <thread>

namespace rbees::server {
namespace {

using app::testing::RawConnection;
using nlohmann::json;
using std::chrono::milliseconds;

class HttpMethodsTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = {}) {
    options.worker_id = "w-methods";
    metrics_ = std::make_shared<WorkerMetrics>();
    server_ = std::make_unique<HttpServer>(options, metrics_);
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
  // Sends `request` on a fresh connection and reads until the server closes it.
  std::string raw(const std::string& request) const {
    RawConnection c(port_);
    EXPECT_TRUE(c.ok());
    c.send_all(request);
    EXPECT_TRUE(c.read_until_closed(milliseconds(10000)));
    return c.received();
  }

  std::shared_ptr<WorkerMetrics> metrics_;
  std::unique_ptr<HttpServer> server_;
  std::shared_ptr<testing::FakeEngine> engine_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(HttpMethodsTest, AKnownPathWithAnotherMethodIs405WithAllow) {
  start();
  auto chat = client().Get("/v1/chat/completions");
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 405);
  EXPECT_EQ(chat->get_header_value("Allow"), "POST, OPTIONS");
  const json openai = json::parse(chat->body);
  EXPECT_EQ(openai["error"]["code"], "method_not_allowed");
  EXPECT_EQ(openai["error"]["message"], "GET is not allowed on /v1/chat/completions: it answers POST, OPTIONS");

  auto health = client().Put("/health", "", "text/plain");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 405);
  EXPECT_EQ(health->get_header_value("Allow"), "GET, OPTIONS");
  EXPECT_EQ(json::parse(health->body)["code"], "METHOD_NOT_ALLOWED");

  // Every endpoint, with a method it does not answer.
  for (const std::string request :
       {"POST /health", "GET /execute", "GET /cancel", "GET /v1/completions", "POST /v1/models", "GET /tokenize",
        "GET /detokenize", "POST /metrics", "PATCH /v1/chat/completions", "DELETE /", "POST /chat.js"}) {
    const std::string answer = raw(request + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 405 ", 0), 0u) << request << ": " << answer;
    EXPECT_NE(answer.find("\r\nAllow: "), std::string::npos) << answer;
  }
  EXPECT_EQ(client().Get("/nope")->status, 404);
  EXPECT_EQ(client().Put("/nope", "", "text/plain")->status, 404);
  const std::string metrics = client().Get("/metrics")->body;
  EXPECT_NE(metrics.find("rbees_requests_total{endpoint=\"/health\",outcome=\"method_not_allowed\"} 2\n"),
            std::string::npos)
      << metrics;
}

TEST_F(HttpMethodsTest, AWrongMethodNeedsTheKeyWhereTheEndpointDoes) {
  ServerOptions o;
  o.api_key = "sekret";
  start(o);
  EXPECT_EQ(client().Put("/health", "", "text/plain")->status, 405);  // /health is open
  EXPECT_EQ(client().Get("/execute")->status, 401);
  EXPECT_EQ(client(std::string("sekret")).Get("/execute")->status, 405);
  EXPECT_EQ(client().Get("/nope")->status, 401);  // an unknown path tells nothing without the key
}

TEST_F(HttpMethodsTest, ABodyWithoutALengthIsNotReadAsTheNextRequest) {
  start();
  // A PUT's body with no Content-Length used to be parsed as a second request ("a header line may be
  // at most 8192 bytes"): the refusal now closes the connection, and there is one answer.
  const std::string answer = raw("PUT /health HTTP/1.1\r\nHost: x\r\n\r\n{\"a\":1}");
  EXPECT_EQ(answer.rfind("HTTP/1.1 405 ", 0), 0u) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1 ", 1), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;

  // Stray bytes where a request line should be are named as such.
  const std::string stray = raw("{\"a\":1}\r\n\r\n");
  EXPECT_EQ(stray.rfind("HTTP/1.1 400 ", 0), 0u) << stray;
  EXPECT_NE(stray.find("the request line could not be read"), std::string::npos) << stray;
}

TEST_F(HttpMethodsTest, CancelWithoutABodyNamesWhatIsMissing) {
  start();
  auto empty = client().Post("/cancel", "", "application/json");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  const json e = json::parse(empty->body)["errors"][0];
  EXPECT_EQ(e["field"], "job_id");
  EXPECT_EQ(e["constraint"], "required");
  EXPECT_NE(e["message"].get<std::string>().find("no body"), std::string::npos) << e;

  // No Content-Length at all on a keep-alive connection: HTTP/1.1 says no body, answered at once
  // (it waited for the read timeout before).
  RawConnection c(port_);
  ASSERT_TRUE(c.ok());
  const auto start = std::chrono::steady_clock::now();
  c.send_all("POST /cancel HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.read_until("]}", milliseconds(5000))) << c.received();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  EXPECT_EQ(c.status(), 400) << c.received();
  EXPECT_NE(c.body().find("\"job_id\""), std::string::npos) << c.received();
}

TEST_F(HttpMethodsTest, OptionsWithoutCorsIs204WithAllowAndNoCorsHeaders) {
  start();
  httplib::Headers preflight = {{"Origin", "http://example.test"}, {"Access-Control-Request-Method", "POST"}};
  for (const std::string path : {"/health", "/v1/chat/completions", "/execute", "/"}) {
    auto res = client().Options(path, preflight);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 204) << path;
    EXPECT_FALSE(res->get_header_value("Allow").empty()) << path;
    EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin")) << path;
    EXPECT_FALSE(res->has_header("Access-Control-Allow-Methods")) << path;
  }
  EXPECT_EQ(client().Options("/nope")->status, 404);
  auto plain = client().Get("/health", {{"Origin", "http://example.test"}});
  EXPECT_FALSE(plain->has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(plain->has_header("Vary"));
}

TEST_F(HttpMethodsTest, CorsListAnswersPreflightsAndMarksAnswersForAllowedOrigins) {
  ServerOptions o;
  o.api_key = "sekret";
  o.cors_origins = {"http://localhost:3000", "https://chat.example.test"};
  start(o);
  const httplib::Headers preflight = {{"Origin", "http://localhost:3000"},
                                      {"Access-Control-Request-Method", "POST"},
                                      {"Access-Control-Request-Headers", "authorization, content-type"}};
  // A preflight never carries the key, and needs none.
  for (const std::string path : {"/health", "/execute", "/cancel", "/v1/completions", "/v1/chat/completions",
                                 "/v1/models", "/tokenize", "/detokenize", "/metrics"}) {
    auto res = client().Options(path, preflight);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 204) << path;
    EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000") << path;
    EXPECT_EQ(res->get_header_value("Access-Control-Allow-Methods"), res->get_header_value("Allow")) << path;
    EXPECT_EQ(res->get_header_value("Access-Control-Allow-Headers"), "Authorization, Content-Type") << path;
    EXPECT_EQ(res->get_header_value("Access-Control-Max-Age"), "7200") << path;
    EXPECT_EQ(res->get_header_value("Vary"), "Origin") << path;
  }
  auto other = client().Options("/v1/chat/completions",
                                {{"Origin", "http://evil.test"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(other->status, 403);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
  EXPECT_NE(json::parse(other->body)["message"].get<std::string>().find("http://evil.test"), std::string::npos);

  // Plain answers, refusals included (a page must be able to read its 401).
  auto health = client().Get("/health", {{"Origin", "https://chat.example.test"}});
  EXPECT_EQ(health->get_header_value("Access-Control-Allow-Origin"), "https://chat.example.test");
  auto denied = client().Get("/v1/models", {{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(denied->status, 401);
  EXPECT_EQ(denied->get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
  auto foreign = client().Get("/health", {{"Origin", "http://evil.test"}});
  EXPECT_FALSE(foreign->has_header("Access-Control-Allow-Origin"));
  EXPECT_EQ(foreign->get_header_value("Vary"), "Origin");

  // A streamed answer carries it in its head.
  auto stream =
      client(std::string("sekret"))
          .Post("/v1/chat/completions", {{"Origin", "http://localhost:3000"}},
                R"({"messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":3})", "application/json");
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->status, 200);
  EXPECT_EQ(stream->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(stream->get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
  EXPECT_NE(stream->body.find("data: [DONE]"), std::string::npos);
}

TEST_F(HttpMethodsTest, CorsAnyOriginAnswersWithAStar) {
  ServerOptions o;
  o.cors_origins = {"*"};
  start(o);
  auto pre = client().Options("/v1/completions",
                              {{"Origin", "http://anything.test:8000"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Methods"), "POST, OPTIONS");
  EXPECT_FALSE(pre->has_header("Vary"));
  auto res = client().Get("/health", {{"Origin", "null"}});
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "*");
  // Without an Origin header (not a browser's cross-origin request) nothing is added.
  EXPECT_FALSE(client().Get("/health")->has_header("Access-Control-Allow-Origin"));
}

TEST(CorsPolicy, OriginsAreCheckedAndComparedWithoutCase) {
  EXPECT_FALSE(invalid_cors_origin("*"));
  EXPECT_FALSE(invalid_cors_origin("http://localhost:3000"));
  EXPECT_FALSE(invalid_cors_origin("https://[::1]:8443"));
  for (const char* bad : {"localhost:3000", "http://x/", "http://x/path", "ftp://x", "http://", "http://a,b"}) {
    EXPECT_TRUE(invalid_cors_origin(bad)) << bad;
    EXPECT_THROW(CorsPolicy({bad}), std::invalid_argument) << bad;
  }
  EXPECT_THROW(CorsPolicy({"*", "http://a.test"}), std::invalid_argument);

  const CorsPolicy off;
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE(off.response_headers("http://a.test").empty());
  const CorsPolicy list({"HTTP://A.test"});
  const HeaderList h = list.response_headers("http://a.TEST");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0], (std::pair<std::string, std::string>{"Vary", "Origin"}));
  EXPECT_EQ(h[1], (std::pair<std::string, std::string>{"Access-Control-Allow-Origin", "http://a.TEST"}));
  EXPECT_EQ(list.response_headers("http://b.test").size(), 1u);  // Vary only
  EXPECT_EQ(list.preflight_headers("http://b.test", "GET, OPTIONS").size(), 1u);
  EXPECT_EQ(list.preflight_headers("http://a.test", "GET, OPTIONS").size(), 5u);
}

}  // namespace
}  // namespace rbees::server
