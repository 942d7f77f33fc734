// The worker split over the local CPU and two `rpc-server` processes (ggml-rpc over loopback): the
// same greedy output as one process, every device on /health and /metrics, a start-up with an
// unreachable --rpc failing fast, and a remote killed or stalled mid-stream failing every running
// request with a retriable error, /health unhealthy, and exit code 4.
#include <future>

#include "app/daemon.hpp"
#include "core/rpc_server_process.hpp"

namespace rbees::app::testing {
namespace {

using rbees::testing::RpcServerProcess;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct ProcessRun {
  int status = -1;
  std::string out;
  std::string err;
  double seconds = 0;
};

// Runs the binary with `args`, stdout and stderr captured in files.
ProcessRun run_binary(const std::vector<std::string>& args) {
  char out_t[] = "/tmp/rbees-run-out-XXXXXX";
  char err_t[] = "/tmp/rbees-run-err-XXXXXX";
  const int out_fd = mkstemp(out_t);
  const int err_fd = mkstemp(err_t);
  std::vector<std::string> all = {RBEES_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const auto t0 = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ProcessRun r;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  close(out_fd);
  close(err_fd);
  r.out = read_file(out_t);
  r.err = read_file(err_t);
  std::remove(out_t);
  std::remove(err_t);
  return r;
}

class RpcWorker : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* s : {&a_, &b_}) ASSERT_TRUE(s->wait_ready()) << "rpc-server did not start";
  }
  std::string rpc() const { return a_.endpoint() + "," + b_.endpoint(); }
  RpcServerProcess a_, b_;
};

TEST_F(RpcWorker, GenerateGivesTheSameGreedyTextAsOneProcessAndAsCpuCpu) {
  const std::vector<std::string> base = {
      "generate", "--prompt", "Prince Andrew", "--max-tokens", "48", "--temperature", "0", "--threads", "1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_binary(args);
  };
  const ProcessRun one = with({});
  ASSERT_EQ(one.status, 0) << one.err;
  ASSERT_FALSE(one.out.empty());
  const ProcessRun split = with({"--device", "cpu", "--rpc", rpc()});
  ASSERT_EQ(split.status, 0) << split.err;
  EXPECT_EQ(split.out, one.out);
  EXPECT_NE(split.err.find("rpc:" + a_.endpoint()), std::string::npos) << split.err;
  const ProcessRun cpucpu = with({"--device", "cpu,cpu"});
  ASSERT_EQ(cpucpu.status, 0) << cpucpu.err;
  EXPECT_EQ(cpucpu.out, one.out);
}

TEST(RpcStartup, AnUnreachableRpcHostFailsFastNamingTheAddress) {
  const std::string ep = "127.0.0.1:" + std::to_string(rbees::testing::free_loopback_port());
  const ProcessRun r = run_binary({"generate", "--prompt", "x", "--max-tokens", "1", "--rpc", ep});
  EXPECT_NE(r.status, 0);
  EXPECT_LT(r.seconds, 10.0);
  EXPECT_NE((r.out + r.err).find(ep), std::string::npos) << r.err;

  Daemon d({"--rpc", ep});
  const auto code = d.wait_exit(seconds(30));
  ASSERT_TRUE(code.has_value()) << d.log();
  EXPECT_EQ(*code, 1);
  EXPECT_NE(d.log().find(ep), std::string::npos) << d.log();
}

// SIGTERM (and SIGINT) stop the rpc-server at once with exit code 0, as they stop serve.
TEST(RpcStartup, TheRpcServerStopsOnSigterm) {
  RpcServerProcess server;
  ASSERT_TRUE(server.wait_ready()) << "rpc-server did not start";
  EXPECT_EQ(server.terminate(std::chrono::milliseconds(3000)), 0);
}

TEST(RpcStartup, TheRpcServerSaysItHasNoAuthentication) {
  const ProcessRun help = run_binary({"rpc-server", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("no authentication"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("127.0.0.1"), std::string::npos) << help.out;
}

TEST_F(RpcWorker, HealthAndMetricsReportEveryDeviceWithItsShare) {
  Daemon d({"--device", "cpu", "--rpc", rpc(), "--ctx-size", "256", "--max-seqs", "2"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  auto res = d.client().Get("/health");
  ASSERT_TRUE(res);
  const json h = json::parse(res->body);
  ASSERT_EQ(h["devices"].size(), 3u) << res->body;
  int layers = 0;
  for (const auto& dev : h["devices"]) {
    EXPECT_GT(dev["layers"].get<int>(), 0) << dev;
    EXPECT_GT(dev["weight_bytes"].get<uint64_t>(), 0u) << dev;
    EXPECT_GT(dev["kv_cache_bytes"].get<uint64_t>(), 0u) << dev;
    layers += dev["layers"].get<int>();
  }
  EXPECT_EQ(layers, 6);
  EXPECT_EQ(h["devices"][1]["id"], "rpc:" + a_.endpoint());
  EXPECT_EQ(h["devices"][2]["id"], "rpc:" + b_.endpoint());
  EXPECT_TRUE(h["resident"].get<bool>());
  const std::string m = metrics_text(d);
  EXPECT_NE(m.find("rbees_device_layers{device=\"rpc:" + b_.endpoint() + "\"} 2"), std::string::npos) << m;
  EXPECT_NE(m.find("rbees_device_kv_cache_bytes{device=\"cpu\"}"), std::string::npos) << m;
  EXPECT_EQ(metric_value(m, "rbees_healthy"), 1.0);
  const std::string log = d.log();
  EXPECT_NE(log.find("device_share"), std::string::npos);

  // And what it serves is what one process serves.
  Daemon one({"--ctx-size", "256", "--max-seqs", "2"});
  ASSERT_TRUE(one.wait_healthy()) << one.log();
  const auto body = greedy_body("j", "Natasha said", 40);
  EXPECT_EQ(execute(d, body).text, execute(one, body).text);
}

// Streams `n` requests at once; each returns its events and when its stream ended.
struct Stream {
  std::future<ExecuteResult> result;
  std::shared_ptr<std::atomic<bool>> started = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<int64_t>> ended_at = std::make_shared<std::atomic<int64_t>>(0);
};

std::vector<Stream> start_streams(const Daemon& d, int n) {
  std::vector<Stream> streams(n);
  for (int i = 0; i < n; ++i) {
    auto started = streams[i].started;
    auto ended_at = streams[i].ended_at;
    streams[i].result = std::async(std::launch::async, [&d, i, started, ended_at] {
      auto r = execute_streaming(d, greedy_body("s" + std::to_string(i), "The war", 900), [&](const std::string& acc) {
        if (acc.find("event: token") != std::string::npos) *started = true;
        return true;
      });
      *ended_at = Clock::now().time_since_epoch().count();
      return r;
    });
  }
  return streams;
}

// Kills (or stalls) one remote mid-stream: every running request must end with a retriable error
// within `bound`, /health must say unhealthy with the reason, and the worker must exit with code 4.
void expect_device_loss_handled(Daemon& d, RpcServerProcess& victim, bool stall, double bound_s) {
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  auto streams = start_streams(d, 2);
  const auto deadline = Clock::now() + seconds(60);
  while (Clock::now() < deadline && !(*streams[0].started && *streams[1].started)) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  ASSERT_TRUE(*streams[0].started && *streams[1].started) << d.log();
  const auto t_fault = Clock::now();
  if (stall) {
    victim.pause();
  } else {
    victim.kill_hard();
  }
  double worst = 0;
  for (auto& s : streams) {
    ASSERT_EQ(s.result.wait_for(seconds(60)), std::future_status::ready) << "a request hung";
    const ExecuteResult r = s.result.get();
    EXPECT_EQ(r.last_type, "error") << r.body.substr(r.body.size() > 600 ? r.body.size() - 600 : 0);
    EXPECT_TRUE(r.end.value("retriable", false)) << r.end;
    EXPECT_NE(r.end.value("message", "").find("lost a device"), std::string::npos) << r.end;
    const auto ended = Clock::time_point(Clock::duration(s.ended_at->load()));
    worst = std::max(worst, std::chrono::duration<double>(ended - t_fault).count());
  }
  EXPECT_LT(worst, bound_s);
  std::printf("%s remote: every request failed within %.3f s\n", stall ? "stalled" : "killed", worst);
  ::testing::Test::RecordProperty("fault_to_error_s", std::to_string(worst));

  auto res = d.client(5).Get("/health");
  ASSERT_TRUE(res) << "the worker exited before /health could say why";
  EXPECT_EQ(res->status, 503);
  const json h = json::parse(res->body);
  EXPECT_EQ(h["status"], "unhealthy") << res->body;
  EXPECT_FALSE(h.value("reason", "").empty()) << res->body;
  // A killed server refuses connections, so the reason can name it; a stalled one cannot be told
  // from a busy one.
  if (!stall) EXPECT_NE(h.value("reason", "").find(victim.endpoint()), std::string::npos) << res->body;
  auto refused = d.client(5).Post("/execute", greedy_body("late", "x", 4).dump(), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("UNHEALTHY"), std::string::npos) << refused->body;

  const auto code = d.wait_exit(seconds(30));
  ASSERT_TRUE(code.has_value()) << "the worker did not exit";
  EXPECT_EQ(*code, 4);
  EXPECT_NE(d.log().find("device_lost"), std::string::npos);
}

TEST_F(RpcWorker, AKilledRpcServerFailsEveryRunningRequestAndTheWorkerExits4) {
  Daemon d({"--device", "cpu", "--rpc", rpc(), "--ctx-size", "2048", "--max-seqs", "2", "--ignore-eos",
            "--device-lost-grace", "3"});
  expect_device_loss_handled(d, b_, false, 2.0);
}

TEST_F(RpcWorker, AStalledRpcServerFailsEveryRunningRequestAfterTheRpcTimeout) {
  Daemon d({"--device", "cpu", "--rpc", rpc(), "--ctx-size", "2048", "--max-seqs", "2", "--ignore-eos", "--rpc-timeout",
            "1", "--device-lost-grace", "3"});
  expect_device_loss_handled(d, a_, true, 3.0);
}

}  // namespace
}  // namespace rbees::app::testing
