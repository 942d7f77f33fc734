#include "server/ready_callback.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <thread>

namespace rbees::server {
namespace {

using namespace std::chrono_literals;

// A loopback listener that answers the first `failures` callbacks with 500, later ones with 200.
class CallbackListener {
 public:
  explicit CallbackListener(int failures) : failures_(failures) {
    server_.Post("/ready", [this](const httplib::Request& req, httplib::Response& res) {
      const int n = ++calls_;
      {
        std::lock_guard lock(mu_);
        last_body_ = req.body;
        content_type_ = req.get_header_value("Content-Type");
      }
      res.status = (failures_ < 0 || n <= failures_) ? 500 : 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // bind_to_any_port already listens, so early connections wait in the backlog.
  }
  ~CallbackListener() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/ready"; }
  int calls() const { return calls_; }
  std::string last_body() {
    std::lock_guard lock(mu_);
    return last_body_;
  }
  std::string content_type() {
    std::lock_guard lock(mu_);
    return content_type_;
  }

 private:
  int failures_;  // < 0: never succeed
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::string last_body_, content_type_;
};

ReadyInfo info() {
  return {"w-1", "http://127.0.0.1:8080", "/models/m.gguf", 1234, "cpu", 1024};
}

CallbackOptions fast(std::chrono::milliseconds timeout) {
  return {timeout, 10ms, 40ms};
}

TEST(ReadyCallback, PostsTheWorkerDescription) {
  CallbackListener listener(0);
  auto r = post_ready_callback(listener.url(), info(), fast(10s));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(listener.content_type(), "application/json");
  EXPECT_EQ(nlohmann::json::parse(listener.last_body()), (nlohmann::json{{"worker_id", "w-1"},
                                                                         {"uri", "http://127.0.0.1:8080"},
                                                                         {"model_ref", "/models/m.gguf"},
                                                                         {"vram_bytes", 1234},
                                                                         {"device", "cpu"},
                                                                         {"context_length", 1024}}));
}

TEST(ReadyCallback, RetriesUntilSuccess) {
  CallbackListener listener(3);
  auto r = post_ready_callback(listener.url(), info(), fast(20s));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.attempts, 4);
  EXPECT_EQ(listener.calls(), 4);
}

TEST(ReadyCallback, GivesUpAfterTheTimeout) {
  CallbackListener listener(-1);
  auto r = post_ready_callback(listener.url(), info(), fast(400ms));
  EXPECT_FALSE(r.ok);
  EXPECT_GE(r.attempts, 2);
  EXPECT_EQ(listener.calls(), r.attempts);
  EXPECT_EQ(r.last_error, "HTTP 500");
}

TEST(ReadyCallback, UnreachableListenerFails) {
  int port;
  {
    httplib::Server probe;  // find a free port, then close it
    port = probe.bind_to_any_port("127.0.0.1");
  }
  auto r = post_ready_callback("http://127.0.0.1:" + std::to_string(port) + "/", info(), fast(300ms));
  EXPECT_FALSE(r.ok);
  EXPECT_GE(r.attempts, 1);
  EXPECT_FALSE(r.last_error.empty());
}

TEST(ReadyCallback, RejectsNonHttpUrl) {
  auto r = post_ready_callback("ftp://example/", info(), fast(100ms));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.attempts, 0);
}

}  // namespace
}  // namespace rbees::server
