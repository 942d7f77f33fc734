#include "server/http_server.hpp"

#include "core/log.hpp"
#include "server/connection_registry.hpp"
#include "server/http_connection.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace rbees::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Connections the kernel may hold for accept(); a short backlog makes a burst of clients wait a
// second (a SYN retransmit) each.
constexpr int kListenBacklog = 1024;
// A connection's kernel send buffer, fixed rather than grown by the kernel up to megabytes: it bounds
// what a client that stops reading leaves queued, and how soon its blocked write times out.
constexpr int kSendBufferBytes = 64 * 1024;
// After accept() fails for want of file descriptors, the pause before trying again.
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);

}  // namespace

struct HttpServer::Loop {
  explicit Loop(ServerContext& ctx) : ctx(ctx), registry(ctx.options.max_connections), acceptor(io), accept_retry(io) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](boost::system::error_code ec, tcp::socket socket) {
      if (stopping || ec == asio::error::operation_aborted) return;
      if (ec) {
        if (!accept_failing.exchange(true)) {
          log::warn("accept_failed", "cannot accept connections: " + ec.message(), {{"open", registry.size()}});
        }
        accept_retry.expires_after(kAcceptRetry);
        accept_retry.async_wait([this](boost::system::error_code e) {
          if (!e) accept();
        });
        return;
      }
      accept_failing = false;
      if (registry.make_room()) {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        socket.set_option(asio::socket_base::send_buffer_size(kSendBufferBytes), ignored);
        std::make_shared<HttpConnection>(std::move(socket), ctx, registry, ++next_id)->start();
      } else {
        // Every open connection has a request in progress.
        boost::system::error_code ignored;
        socket.close(ignored);
      }
      accept();
    });
  }

  ServerContext& ctx;
  // Before io: connections, destroyed with the io_context's pending handlers, leave the registry.
  ConnectionRegistry registry;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  std::atomic<bool> stopping{false};
  std::atomic<bool> accept_failing{false};
  uint64_t next_id = 0;
};

HttpServer::HttpServer(ServerOptions options, std::shared_ptr<WorkerMetrics> metrics)
    : ctx_(std::move(options), std::move(metrics)), loop_(std::make_unique<Loop>(ctx_)) {}

HttpServer::~HttpServer() {
  stop();
  loop_.reset();
}

int HttpServer::bind(const std::string& host, int port) {
  boost::system::error_code ec;
  tcp::resolver resolver(loop_->io);
  const auto endpoints = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) return -1;
  auto& acceptor = loop_->acceptor;
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return -1;
  // SO_REUSEADDR lets a restarted worker rebind at once; without SO_REUSEPORT a second worker on a
  // port in use fails instead of silently taking part of its connections.
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(kListenBacklog, ec);
  if (ec) {
    acceptor.close(ec);
    return -1;
  }
  return acceptor.local_endpoint().port();
}

bool HttpServer::listen() {
  if (loop_->stopping || !loop_->acceptor.is_open()) return false;
  loop_->accept();
  std::vector<std::thread> pool;
  for (int i = 1; i < ctx_.options.http_threads; ++i) pool.emplace_back([this] { loop_->io.run(); });
  loop_->io.run();
  for (auto& t : pool) t.join();
  return true;
}

void HttpServer::stop() {
  if (!loop_ || loop_->stopping) return;
  // Streams whose jobs have ended still hold their last events (end, or error CANCELLED after a
  // drain); stopping the loop first would cut them off. Bounded, so a stuck client cannot hold the
  // shutdown.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (ctx_.open_streams > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Connections still open end with the io_context: closed, their jobs cancelled.
  loop_->stopping = true;
  loop_->io.stop();
}

void HttpServer::set_engine(std::shared_ptr<engine::Engine> engine) {
  ctx_.set_engine(std::move(engine));
  ServerState expected = ServerState::loading;
  ctx_.state.compare_exchange_strong(expected, ServerState::healthy);
}

void HttpServer::begin_drain() {
  ServerState expected = ServerState::healthy;
  ctx_.state.compare_exchange_strong(expected, ServerState::draining);
}

void HttpServer::mark_unhealthy(const std::string& reason) {
  ctx_.mark_unhealthy(reason);
}

}  // namespace rbees::server
