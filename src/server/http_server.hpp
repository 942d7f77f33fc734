#pragma once
// The worker's HTTP server: the worker protocol (/health, /execute, /cancel), the OpenAI-compatible
// API (/v1/models, /v1/completions, /v1/chat/completions), llama-server's /tokenize and /detokenize,
// and Prometheus /metrics, over an abstract engine. The port opens before the model is loaded:
// until set_engine(), /health answers 503 "loading" and work is refused.
//
// HTTP/1.1 on an event loop (Boost.Asio and Beast): a few threads serve every connection, and an
// open connection, idle or streaming, holds none of them while it waits.

#include "engine/engine.hpp"
#include "server/metrics.hpp"
#include "server/server_context.hpp"
#include "server/server_options.hpp"

#include <memory>
#include <string>

namespace rbees::server {

class HttpServer {
 public:
  HttpServer(ServerOptions options, std::shared_ptr<WorkerMetrics> metrics);
  ~HttpServer();

  // Binds the listening socket; returns the port (useful with port 0), or -1.
  int bind(const std::string& host, int port);
  // Serves until stop(), on this thread and options.http_threads - 1 more; call after bind().
  bool listen();
  // Lets open streams finish (up to 5 s), then stops serving; listen() returns.
  void stop();

  // loading -> healthy.
  void set_engine(std::shared_ptr<engine::Engine> engine);
  // healthy -> draining: new work gets 503 SHUTTING_DOWN, running streams continue.
  void begin_drain();
  // -> unhealthy: /health answers 503 with `reason`, new work gets 503 UNHEALTHY.
  void mark_unhealthy(const std::string& reason);

  using State = ServerState;
  State state() const { return ctx_.state; }

 private:
  struct Loop;

  ServerContext ctx_;
  std::unique_ptr<Loop> loop_;
};

}  // namespace rbees::server
