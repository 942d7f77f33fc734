#pragma once
// The worker's HTTP server: the worker protocol (/health, /execute, /cancel), the OpenAI-compatible
// API (/v1/models, /v1/completions, /v1/chat/completions), llama-server's /tokenize and /detokenize,
// and Prometheus /metrics, over an abstract engine. The port opens before the model is loaded:
// until set_engine(), /health answers 503 "loading" and work is refused.

#include "engine/engine.hpp"
#include "server/auth.hpp"
#include "server/deadline_sink.hpp"
#include "server/metrics.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

namespace httplib {
class Server;
}

namespace rbees::server {

struct ServerOptions {
  std::string worker_id;
  std::optional<std::string> api_key;  // every endpoint but /health then needs it
  int http_threads = 64;               // each open stream holds one
  int retry_after_seconds = 1;         // Retry-After of 503 OVERLOADED

  // Limits that keep one client from holding the process (each is an option of `serve`).
  size_t max_body_bytes = 4 * 1024 * 1024;  // larger bodies get 413
  // All header lines together; more get 431. (cpp-httplib caps one header line at 8192 bytes, 400,
  // and the request line at 8192, 414, at its compile time.)
  size_t max_header_bytes = 16 * 1024;
  // Longest wait for the next bytes of a request being read, and for a response write to make
  // progress: a client that stops reading its stream is dropped, and its job cancelled.
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds write_timeout{10'000};
  // How long a connection may sit without a request, before its first one or between keep-alive
  // requests (whole seconds: cpp-httplib's unit).
  int idle_timeout_s = 5;
  // From arrival to the end of the response, queueing included; zero: no limit.
  std::chrono::milliseconds request_timeout{0};
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, std::shared_ptr<WorkerMetrics> metrics);
  ~HttpServer();

  // Binds the listening socket; returns the port (useful with port 0), or -1.
  int bind(const std::string& host, int port);
  // Serves until stop(); call after bind().
  bool listen();
  void stop();

  // loading -> healthy.
  void set_engine(std::shared_ptr<engine::Engine> engine);
  // healthy -> draining: new work gets 503 SHUTTING_DOWN, running streams continue.
  void begin_drain();

  enum class State { loading, healthy, draining };
  State state() const { return state_; }

 private:
  void install_routes();
  std::shared_ptr<engine::Engine> engine() const;
  // When a request arriving now must end (--request-timeout), and its sink made to report it.
  Deadline deadline_from_now() const;
  std::shared_ptr<engine::Sink> with_deadline(std::shared_ptr<engine::Sink> sink,
                                              std::shared_ptr<StreamChannel> channel) const;

  ServerOptions options_;
  std::shared_ptr<WorkerMetrics> metrics_;
  ApiKeyCheck auth_;
  std::unique_ptr<httplib::Server> http_;
  // Streaming responses not yet fully written; stop() lets them finish.
  std::shared_ptr<std::atomic<int>> open_streams_ = std::make_shared<std::atomic<int>>(0);
  std::atomic<State> state_{State::loading};
  int listen_fd_ = -1;  // the listening socket, once created
  mutable std::mutex engine_mu_;
  std::shared_ptr<engine::Engine> engine_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::system_clock::time_point started_wall_;
};

}  // namespace rbees::server
