// The daemon's start-up: the port opens while the model loads, a model that cannot load exits 1
// naming the file, an engine that cannot start exits 1 saying why, and the ready callback (with retries, and exit 3
// when it never succeeds).
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <mutex>

#include "app/daemon.hpp"

namespace rbees::app::testing {
namespace {

namespace fs = std::filesystem;

// A copy of the default model whose tokenizer.json is a FIFO: loading blocks on it until the test
// writes the file's content, so the "loading" state can be observed for as long as needed.
struct BlockedModelDir {
  fs::path dir;
  BlockedModelDir() {
    char tmpl[] = "/tmp/rbees-blocked-model-XXXXXX";
    dir = mkdtemp(tmpl);
    for (const auto& e : fs::directory_iterator(kModelDir)) {
      if (e.path().filename() != "tokenizer.json") fs::create_symlink(e.path(), dir / e.path().filename());
    }
    mkfifo((dir / "tokenizer.json").c_str(), 0600);
  }
  ~BlockedModelDir() { fs::remove_all(dir); }
  // Opens the FIFO for writing (it waits for the daemon to open it) and writes `content`.
  void release(const std::string& content) {
    std::ofstream f(dir / "tokenizer.json", std::ios::binary);
    f << content;
  }
};

TEST(ServeStartup, HealthSaysLoadingUntilTheModelIsReady) {
  BlockedModelDir blocked;
  Daemon d({"--model", blocked.dir.string(), "--worker-id", "loading-worker"});
  ASSERT_GT(d.wait_port(), 0) << d.log();
  auto res = d.client(5).Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  const json h = json::parse(res->body);
  EXPECT_EQ(h["status"], "loading");
  EXPECT_EQ(h["worker_id"], "loading-worker");
  auto work = d.client(5).Post("/execute", greedy_body("early", "x", 2).dump(), "application/json");
  ASSERT_TRUE(work);
  EXPECT_EQ(work->status, 503);
  EXPECT_EQ(json::parse(work->body)["code"], "LOADING");

  blocked.release(read_file(kModelDir + "/tokenizer.json"));
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  res = d.client(5).Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["status"], "healthy");
}

TEST(ServeStartup, AModelThatFailsToLoadExitsOneNamingTheFile) {
  BlockedModelDir blocked;
  Daemon d({"--model", blocked.dir.string()});
  ASSERT_GT(d.wait_port(), 0) << d.log();
  blocked.release("{ this is not a tokenizer");
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(30)), std::optional<int>(1)) << d.log();
  const std::string log = d.log();
  EXPECT_NE(log.find("model_load_failed"), std::string::npos) << log;
  EXPECT_NE(log.find(blocked.dir.string()), std::string::npos) << log;
}

// An engine that cannot start (here, a step trace it cannot write) ends the daemon with exit 1 and
// the reason, not an abort.
TEST(ServeStartup, AnEngineThatCannotStartExitsOneSayingWhy) {
  Daemon d({"--step-trace", "/nonexistent-dir-for-rbees/trace.jsonl"});
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(60)), std::optional<int>(1)) << d.log();
  const std::string log = d.log();
  EXPECT_NE(log.find("engine_start_failed"), std::string::npos) << log;
  EXPECT_NE(log.find("/nonexistent-dir-for-rbees/trace.jsonl"), std::string::npos) << log;
}

// A test listener for the ready callback: answers 500 to the first `failures` posts, then 200.
struct CallbackListener {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::vector<json> bodies;
  std::atomic<int> attempts{0};

  explicit CallbackListener(int failures) {
    server.Post("/ready", [this, failures](const httplib::Request& req, httplib::Response& res) {
      const int n = ++attempts;
      {
        std::lock_guard lk(mu);
        bodies.push_back(json::parse(req.body));
      }
      res.status = n <= failures ? 500 : 200;
      res.set_content("{}", "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~CallbackListener() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/ready"; }
};

TEST(ServeStartup, ReadyCallbackIsRetriedUntilAcknowledged) {
  CallbackListener listener(1);
  Daemon d({"--model", kModelDir, "--worker-id", "cb-worker", "--callback-url", listener.url()});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (listener.attempts < 2 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(listener.attempts, 2) << d.log();
  std::lock_guard lk(listener.mu);
  for (const auto& body : listener.bodies) {
    EXPECT_EQ(body["worker_id"], "cb-worker");
    EXPECT_EQ(body["uri"], d.uri());
    EXPECT_EQ(body["model_ref"], kModelDir);
    EXPECT_EQ(body["vram_bytes"], 0);
    EXPECT_EQ(body["device"], "cpu");
    EXPECT_EQ(body["context_length"], 1024);
  }
  // Acknowledged: the worker keeps serving.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(d.exited());
  auto res = d.client(5).Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(ServeStartup, ReadyCallbackThatNeverSucceedsExitsThree) {
  CallbackListener listener(1000000);
  Daemon d({"--model", kModelDir, "--callback-url", listener.url(), "--callback-timeout", "1"});
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(60)), std::optional<int>(3)) << d.log();
  EXPECT_GE(listener.attempts, 2);
  EXPECT_NE(d.log().find("ready_callback_failed"), std::string::npos) << d.log();

  // Nobody listening at all: the same.
  const std::string dead_url = "http://127.0.0.1:" + std::to_string(listener.port) + "/ready";
  listener.server.stop();
  Daemon d2({"--model", kModelDir, "--callback-url", dead_url, "--callback-timeout", "1"});
  EXPECT_EQ(d2.wait_exit(std::chrono::seconds(60)), std::optional<int>(3)) << d2.log();
}

TEST(ServeStartup, SigtermWhileTheCallbackIsRetriedExitsZero) {
  CallbackListener listener(1000000);
  Daemon d({"--model", kModelDir, "--callback-url", listener.url(), "--callback-timeout", "600"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (listener.attempts < 1 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(listener.attempts, 1);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(60)), std::optional<int>(0)) << d.log();
}

}  // namespace
}  // namespace rbees::app::testing
