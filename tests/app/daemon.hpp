#pragma once
// Test support: the real rbees-workerd `serve` as a child process on a free loopback port (the
// daemon binds port 0 and logs the port it got), with its stderr in a temporary file, bounded waits
// everywhere, and the child killed when the test is done with it.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace rbees::app::testing {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

inline std::string source_path(const std::string& rel) {
  return std::string(RBEES_SOURCE_DIR) + "/" + rel;
}
inline const std::string kModelDir = source_path("models/wp-llama-5m");

inline json reference_cases() {
  std::ifstream f(source_path("tests/data/wp-llama-5m.ref-given.json"));
  return nlohmann::json::parse(f)["cases"];
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class Daemon {
 public:
  // Starts `rbees-workerd serve --port 0 ARGS...`; does not wait for readiness.
  explicit Daemon(std::vector<std::string> args, bool with_default_threads = true) {
    char tmpl[] = "/tmp/rbees-daemon-log-XXXXXX";
    const int fd = mkstemp(tmpl);
    log_path_ = tmpl;
    std::vector<std::string> all = {RBEES_BINARY, "serve", "--port", "0", "--log-format", "text"};
    if (with_default_threads) all.insert(all.end(), {"--threads", "1"});
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    // fork + exec rather than posix_spawn, so that the child can ask to be killed with the test
    // process: a test binary killed by a timeout leaves no daemon behind.
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fd, 2);
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execve(argv[0], argv.data(), environ);
      _exit(127);
    }
    close(fd);
  }
  ~Daemon() {
    if (pid_ > 0 && !exit_code_) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (!log_path_.empty()) std::remove(log_path_.c_str());
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  pid_t pid() const { return pid_; }
  std::string log() const { return read_file(log_path_); }

  // The port from the "listening" log line; 0 when it did not appear in time (or the child died).
  int wait_port(std::chrono::seconds limit = std::chrono::seconds(30)) {
    static const std::regex re(R"(listening on http://[^:]+:(\d+))");
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, re)) return port_ = std::stoi(m[1]);
      if (exited()) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return 0;
  }

  // Waits until /health answers 200; false on timeout or exit.
  bool wait_healthy(std::chrono::seconds limit = std::chrono::seconds(60)) {
    if (port_ == 0 && wait_port(limit) == 0) return false;
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      auto res = client().Get("/health");
      if (res && res->status == 200) return true;
      if (exited()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  int port() const { return port_; }
  std::string uri() const { return "http://127.0.0.1:" + std::to_string(port_); }

  httplib::Client client(int read_timeout_s = 120) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(std::chrono::seconds(5));
    c.set_read_timeout(std::chrono::seconds(read_timeout_s));
    c.set_write_timeout(std::chrono::seconds(10));
    return c;
  }

  bool exited() {
    if (exit_code_) return true;
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return true;
    }
    return false;
  }
  // The exit code, or nullopt when the child is still running after `limit`.
  std::optional<int> wait_exit(std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (exited()) return exit_code_;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }
  void signal(int sig) { kill(pid_, sig); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
  std::optional<int> exit_code_;
};

struct SseEvent {
  std::string event;
  json data;
};

// Splits a text/event-stream body into its events (blank-line separated; `event:` and `data:` lines).
inline std::vector<SseEvent> parse_sse(const std::string& body) {
  std::vector<SseEvent> out;
  SseEvent cur;
  std::string data;
  std::istringstream in(body);
  std::string line;
  auto flush = [&] {
    if (!cur.event.empty() || !data.empty()) {
      cur.data = data.empty() || data == "[DONE]" ? json() : json::parse(data);
      out.push_back(cur);
    }
    cur = {};
    data.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      flush();
    } else if (line.rfind("event:", 0) == 0) {
      cur.event = line.substr(line.find_first_not_of(' ', 6));
    } else if (line.rfind("data:", 0) == 0) {
      data += line.substr(line.find_first_not_of(' ', 5));
    }
  }
  flush();
  return out;
}

struct ExecuteResult {
  int status = 0;
  std::string body;
  std::vector<SseEvent> events;
  std::string text;  // the token events' text joined
  json end;          // the end or error event's data
  std::string last_type;
};

inline ExecuteResult collect(int status, std::string body) {
  ExecuteResult r;
  r.status = status;
  r.body = std::move(body);
  if (status != 200) return r;
  r.events = parse_sse(r.body);
  for (const auto& e : r.events) {
    if (e.event == "token") r.text += e.data["t"].get<std::string>();
    if (e.event == "end" || e.event == "error") r.end = e.data;
    r.last_type = e.event;
  }
  return r;
}

inline ExecuteResult execute(const Daemon& d, const json& body, const httplib::Headers& headers = {}) {
  auto c = d.client();
  auto res = c.Post("/execute", headers, body.dump(), "application/json");
  if (!res) return {};
  return collect(res->status, res->body);
}

inline json greedy_body(const std::string& job_id, const std::string& prompt, int max_tokens) {
  return {{"job_id", job_id}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0.0}};
}

// Posts /execute and reads the stream as it arrives; on_chunk(accumulated body) returns false to
// drop the connection.
inline ExecuteResult execute_streaming(const Daemon& d, const json& body,
                                       const std::function<bool(const std::string&)>& on_chunk) {
  auto c = d.client();
  std::string acc;
  httplib::Request req;
  req.method = "POST";
  req.path = "/execute";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    acc.append(data, len);
    return on_chunk(acc);
  };
  auto res = c.send(req);
  return collect(res ? res->status : 200, acc);
}

inline std::optional<double> metric_value(const std::string& metrics, const std::string& name) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return std::nullopt;
}

inline std::string metrics_text(const Daemon& d, const httplib::Headers& headers = {}) {
  auto c = d.client(10);
  auto res = c.Get("/metrics", headers);
  return res ? res->body : "";
}

}  // namespace rbees::app::testing
