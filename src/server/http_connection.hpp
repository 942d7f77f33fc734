#pragma once
// One client connection of the front end, driven by Boost.Beast on the server's event loop. It
// holds no thread while it waits: for a request (--idle-timeout), for the rest of a request's
// headers (--header-timeout from its first byte) or body (--read-timeout between reads, and a
// deadline proportional to its length), or for the engine's next event. The limits on the request
// line, header lines, headers together and the body are checked as soon as what they bound is
// known, before the endpoint runs.

#include "server/connection_registry.hpp"
#include "server/http_message.hpp"
#include "server/server_context.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rbees::server {

class HttpConnection final : public RegisteredConnection, public std::enable_shared_from_this<HttpConnection> {
 public:
  using Socket = boost::asio::ip::tcp::socket;

  HttpConnection(Socket socket, ServerContext& ctx, ConnectionRegistry& registry, uint64_t id);
  ~HttpConnection() override;

  void start();

  bool idle() const override;
  void close_soon() override;

 private:
  using Clock = std::chrono::steady_clock;
  using ErrorCode = boost::system::error_code;
  enum class Phase { idle, header, body, handling, responding, engine_reply, closing, closed };

  // Reading a request.
  void wait_request();
  void begin_request();
  void on_header(ErrorCode ec);
  void on_header_error(ErrorCode ec);
  void check_header();
  void read_body();
  void read_unframed();
  void handle_request();

  // Answering it.
  void respond(HttpResponse response, bool close_after = false);
  void start_engine_reply(EngineReply reply);
  void wake();
  void pump();
  void stream_written(ErrorCode ec);
  void watch_disconnect();
  void give_up();
  void end_reply();

  // Timers and ending.
  void arm(Clock::time_point deadline);
  void linger_close();
  void discard_until_closed();
  void close();

  ServerContext& ctx_;
  ConnectionRegistry& registry_;
  ConnectionRegistry::Handle handle_{};
  bool registered_ = false;
  const uint64_t id_;
  Socket socket_;
  boost::asio::any_io_executor executor_;    // the connection's strand: its handlers never overlap
  boost::asio::steady_timer timer_;          // the current phase's deadline
  boost::asio::steady_timer request_timer_;  // --request-timeout of an engine reply
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::atomic<Phase> phase_{Phase::idle};
  Clock::time_point body_deadline_{};
  std::string method_;
  std::string path_;    // of the request being answered: error shapes and metrics
  std::string origin_;  // its Origin header: the CORS headers of the answer
  bool keep_alive_ = true;
  std::string unframed_body_;

  std::unique_ptr<boost::beast::http::response<boost::beast::http::string_body>> response_;

  std::optional<EngineReply> reply_;
  std::unique_ptr<boost::beast::http::response<boost::beast::http::empty_body>> stream_head_;
  std::unique_ptr<boost::beast::http::response_serializer<boost::beast::http::empty_body>> stream_serializer_;
  std::string out_;                  // the chunk being written
  std::vector<StreamEvent> events_;  // the reply's events being turned into it
  bool writing_ = false;
  std::atomic<bool> wake_pending_{false};
};

}  // namespace rbees::server
