#include "server/http_connection.hpp"

#include "core/log.hpp"
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"
#include "server/memory_release.hpp"
#include "server/reply_format.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/socket.h>
#include <algorithm>
#include <cctype>
#include <cerrno>

namespace rbees::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// A refused request's connection is closed once the response is out; the client's unread bytes
// are read and dropped meanwhile (for at most this long), so that closing does not reset the
// connection before the client has read its answer.
constexpr auto kLingerTime = std::chrono::seconds(2);
// The read buffer between requests, at most; a larger one is released.
constexpr size_t kIdleBufferBytes = 16 * 1024;

std::string to_string(beast::string_view s) {
  return std::string(s.data(), s.size());
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// What can be told of a request whose header block the parser refused, from what is left of it in
// the buffer (the parser has consumed what it accepted): its request line's path, when still there,
// and the Content-Length value as sent.
struct RawHead {
  std::string method;
  std::string path;
  std::optional<std::string> content_length;
  bool first_line_complete = false;
};

RawHead scan_raw_head(std::string_view raw) {
  RawHead h;
  const size_t line_end = raw.find("\r\n");
  h.first_line_complete = line_end != std::string_view::npos;
  const std::string_view line = raw.substr(0, line_end);
  const size_t sp1 = line.find(' ');
  if (sp1 != std::string_view::npos) {
    h.method = std::string(line.substr(0, sp1));
    const size_t sp2 = line.find(' ', sp1 + 1);
    const std::string_view target = line.substr(sp1 + 1, sp2 == std::string_view::npos ? sp2 : sp2 - sp1 - 1);
    h.path = std::string(target.substr(0, target.find('?')));
  }
  for (size_t at = 0; at < raw.size();) {
    const size_t end = raw.find("\r\n", at);
    const std::string_view field = raw.substr(at, end == std::string_view::npos ? end : end - at);
    const size_t colon = field.find(':');
    if (colon != std::string_view::npos && iequals(field.substr(0, colon), "content-length")) {
      std::string_view v = field.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      h.content_length = std::string(v);
    }
    if (end == std::string_view::npos || end == at) break;
    at = end + 2;
  }
  return h;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A read that ended because the peer went away or a deadline closed the socket: nothing to answer.
bool connection_ended(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
         ec == asio::error::connection_reset || ec == asio::error::bad_descriptor || ec == asio::error::broken_pipe ||
         ec == http::error::partial_message;
}

// What a header block the parser refused got wrong, as far as its error tells.
std::string unreadable_part(const boost::system::error_code& ec, bool request_line_read) {
  if (!request_line_read || ec == http::error::bad_method || ec == http::error::bad_target ||
      ec == http::error::bad_version) {
    return "the request line could not be read: it must be METHOD /path HTTP/1.1 (was a body sent without "
           "Content-Length after an earlier request?)";
  }
  if (ec == http::error::bad_transfer_encoding || ec == http::error::bad_chunk ||
      ec == http::error::bad_chunk_extension) {
    return "the body's framing (Transfer-Encoding) could not be read";
  }
  return "a header line could not be read: each is `Name: value`, at most 8192 bytes";
}

std::string body_limit_text(const ServerContext& ctx) {
  return "at most " + std::to_string(ctx.options.max_body_bytes) + " bytes (--max-body-size)";
}

}  // namespace

HttpConnection::HttpConnection(Socket socket, ServerContext& ctx, ConnectionRegistry& registry, uint64_t id)
    : ctx_(ctx),
      registry_(registry),
      id_(id),
      socket_(std::move(socket)),
      executor_(socket_.get_executor()),
      timer_(executor_),
      request_timer_(executor_),
      buffer_(kMaxRequestLineBytes + ctx.options.max_header_bytes + 64 * 1024) {}

HttpConnection::~HttpConnection() {
  end_reply();
  if (registered_) registry_.remove(handle_);
}

void HttpConnection::start() {
  handle_ = registry_.add(weak_from_this());
  registered_ = true;
  wait_request();
}

bool HttpConnection::idle() const {
  const Phase p = phase_;
  return p == Phase::idle || p == Phase::header;
}

void HttpConnection::close_soon() {
  asio::post(executor_, [self = shared_from_this()] { self->close(); });
}

// ---- reading a request ----

void HttpConnection::wait_request() {
  phase_ = Phase::idle;
  parser_.reset();
  path_.clear();
  method_.clear();
  origin_.clear();
  if (buffer_.size() > 0) return begin_request();  // the client sent its next request already
  if (buffer_.capacity() > kIdleBufferBytes) buffer_.shrink_to_fit();
  arm(Clock::now() + std::chrono::seconds(ctx_.options.idle_timeout_s));
  // Waiting for readability takes no buffer: an idle connection is its socket and this object.
  socket_.async_wait(Socket::wait_read, [self = shared_from_this()](ErrorCode ec) {
    if (ec || self->phase_ != Phase::idle) return self->close();
    self->begin_request();
  });
}

void HttpConnection::begin_request() {
  phase_ = Phase::header;
  parser_.emplace();
  // The parser's own bound on the header block is a backstop; check_header() applies the limits
  // line by line with their own status codes.
  parser_->header_limit(static_cast<uint32_t>(kMaxRequestLineBytes + ctx_.options.max_header_bytes + 4));
  parser_->body_limit(ctx_.options.max_body_bytes);
  arm(Clock::now() + ctx_.options.header_timeout);
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = shared_from_this()](ErrorCode ec, size_t) { self->on_header(ec); });
}

void HttpConnection::on_header(ErrorCode ec) {
  if (phase_ != Phase::header) return;
  if (ec) return on_header_error(ec);
  check_header();
}

void HttpConnection::on_header_error(ErrorCode ec) {
  if (connection_ended(ec)) return close();
  // The refused header block is still in the buffer: its path picks the error's shape.
  const auto data = buffer_.data();
  const RawHead raw = scan_raw_head(std::string_view(static_cast<const char*>(data.data()), data.size()));
  // Past the request line the parser holds the method and target.
  const auto& head = parser_->get();
  const std::string_view target(head.target().data(), head.target().size());
  const bool request_line_read = !target.empty();
  method_ = request_line_read ? to_string(head.method_string()) : raw.method;
  path_ = request_line_read ? std::string(target.substr(0, target.find('?'))) : raw.path;
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    if (!request_line_read && !raw.first_line_complete) {
      return respond(limit_error(path_, 414, "request line too long", "at most 8192 bytes"), true);
    }
    return respond(
        limit_error(path_, 431, "request headers too large",
                    "at most " + std::to_string(ctx_.options.max_header_bytes) + " bytes (--max-header-size)"),
        true);
  }
  if (ec == http::error::body_limit) {
    return respond(limit_error(path_, 413, "request body too large", body_limit_text(ctx_)), true);
  }
  if (ec == http::error::bad_content_length) {
    // A number too large for 64 bits is over the limit too; anything else is not a length.
    if (raw.content_length && all_digits(*raw.content_length)) {
      return respond(limit_error(path_, 413, "request body too large", body_limit_text(ctx_)), true);
    }
    return respond(
        limit_error(path_, 400, "malformed request", "Content-Length must be a non-negative decimal number of bytes"),
        true);
  }
  respond(limit_error(path_, 400, "malformed request", unreadable_part(ec, request_line_read)), true);
}

void HttpConnection::check_header() {
  auto& head = parser_->get();
  method_ = to_string(head.method_string());
  const std::string_view target(head.target().data(), head.target().size());
  path_ = std::string(target.substr(0, target.find('?')));
  keep_alive_ = head.keep_alive();
  const bool body_pending = !parser_->is_done();

  if (method_.size() + target.size() + 10 > kMaxRequestLineBytes) {
    return respond(limit_error(path_, 414, "request line too long", "at most 8192 bytes"), true);
  }
  size_t total = 0;
  for (const auto& field : head) {
    const size_t line = field.name_string().size() + field.value().size() + 2;
    if (line > kMaxHeaderLineBytes) {
      return respond(limit_error(path_, 400, "header line too long", "at most 8192 bytes"), true);
    }
    total += line + 2;
  }
  if (total > ctx_.options.max_header_bytes) {
    return respond(
        limit_error(path_, 431, "request headers too large",
                    "at most " + std::to_string(ctx_.options.max_header_bytes) + " bytes (--max-header-size)"),
        true);
  }
  origin_ = to_string(head[http::field::origin]);
  // A request with neither a length nor chunks may have a body that runs to the end of the
  // connection (read as one for a POST). After a refusal such a connection is closed: its body must
  // not be read as the next request.
  const bool unframed_body_possible = method_ != "GET" && method_ != "HEAD" && method_ != "OPTIONS" &&
                                      !head.has_content_length() && !parser_->chunked();
  const bool unread = body_pending || unframed_body_possible;
  const endpoints::Route* route = endpoints::find_route(method_, path_);
  // Authentication comes before the body is read, and before an unknown path or method is told apart.
  if (route ? route->needs_key : endpoints::path_needs_key(path_)) {
    const auto auth = head[http::field::authorization];
    if (!ctx_.auth.allows(std::string_view(auth.data(), auth.size()))) return respond(unauthorized(path_), unread);
  }
  if (!route && endpoints::is_known_path(path_)) {
    return respond(method_not_allowed(method_, path_, endpoints::allowed_methods(path_)), unread);
  }
  if (!route) return respond(not_found(method_, path_), unread);

  // HTTP/1.1 gives a request without a length no body (RFC 9112, 6.3): a keep-alive POST without one
  // is answered at once (an empty body is refused naming what is missing). Only a client that
  // closes the connection after its request can end a body that way, and it is read to the end.
  const bool unframed = method_ == "POST" && unframed_body_possible && !keep_alive_;
  const uint64_t expected = parser_->content_length().value_or(ctx_.options.max_body_bytes);
  body_deadline_ = Clock::now() + ctx_.options.header_timeout +
                   std::chrono::milliseconds(expected * 1000 / std::max<size_t>(1, ctx_.options.min_body_rate));
  if (!body_pending && !unframed) return handle_request();

  phase_ = Phase::body;
  auto go_on = [self = shared_from_this(), unframed] {
    if (unframed) return self->read_unframed();
    self->read_body();
  };
  const auto expect = head[http::field::expect];
  if (iequals(std::string_view(expect.data(), expect.size()), "100-continue")) {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    arm(Clock::now() + ctx_.options.write_timeout);
    return asio::async_write(socket_, asio::buffer(kContinue),
                             [self = shared_from_this(), go_on](ErrorCode ec, size_t) {
                               if (ec) return self->close();
                               go_on();
                             });
  }
  go_on();
}

void HttpConnection::read_body() {
  arm(std::min(body_deadline_, Clock::now() + ctx_.options.read_timeout));
  http::async_read_some(socket_, buffer_, *parser_, [self = shared_from_this()](ErrorCode ec, size_t) {
    if (self->phase_ != Phase::body) return;
    if (ec == http::error::body_limit) {
      return self->respond(limit_error(self->path_, 413, "request body too large", body_limit_text(self->ctx_)), true);
    }
    if (ec && connection_ended(ec)) return self->close();
    if (ec) {
      return self->respond(limit_error(self->path_, 400, "malformed request", "the body could not be read"), true);
    }
    if (!self->parser_->is_done()) return self->read_body();
    self->handle_request();
  });
}

void HttpConnection::read_unframed() {
  if (buffer_.size() > 0) {
    const auto data = buffer_.data();
    unframed_body_.append(static_cast<const char*>(data.data()), data.size());
    buffer_.consume(buffer_.size());
  }
  if (unframed_body_.size() > ctx_.options.max_body_bytes) {
    unframed_body_ = {};
    return respond(limit_error(path_, 413, "request body too large", body_limit_text(ctx_)), true);
  }
  arm(std::min(body_deadline_, Clock::now() + ctx_.options.read_timeout));
  socket_.async_read_some(buffer_.prepare(64 * 1024), [self = shared_from_this()](ErrorCode ec, size_t n) {
    if (self->phase_ != Phase::body) return;
    self->buffer_.commit(n);
    if (ec == asio::error::eof) {
      const auto data = self->buffer_.data();
      self->unframed_body_.append(static_cast<const char*>(data.data()), data.size());
      self->buffer_.consume(self->buffer_.size());
      self->keep_alive_ = false;
      if (self->unframed_body_.size() > self->ctx_.options.max_body_bytes) {
        self->unframed_body_ = {};
        return self->respond(limit_error(self->path_, 413, "request body too large", body_limit_text(self->ctx_)),
                             true);
      }
      self->parser_->get().body() = std::move(self->unframed_body_);
      self->unframed_body_ = {};
      return self->handle_request();
    }
    if (ec) return self->close();
    self->read_unframed();
  });
}

void HttpConnection::handle_request() {
  phase_ = Phase::handling;
  timer_.cancel();
  const endpoints::Route* route = endpoints::find_route(method_, path_);
  HttpRequest req;
  req.method = method_;
  req.path = path_;
  req.connection_id = id_;
  {
    auto message = parser_->release();
    parser_.reset();
    for (const auto& field : message)
      req.headers.emplace_back(to_string(field.name_string()), to_string(field.value()));
    req.body = std::move(message.body());
  }
  Reply reply;
  try {
    reply = route->handle(ctx_, req);
  } catch (const std::exception& e) {
    log::error("http_exception", e.what());
    reply = {internal_error(e.what()), std::nullopt};
  }
  const size_t body_bytes = req.body.size();
  req = {};
  release_memory_after(body_bytes);
  if (reply.engine) return start_engine_reply(std::move(*reply.engine));
  respond(std::move(reply.response));
}

// ---- answering ----

void HttpConnection::respond(HttpResponse r, bool close_after) {
  phase_ = Phase::responding;
  parser_.reset();
  ctx_.metrics->requests.with({std::string(endpoints::metrics_path(path_)), outcome_of(r.status)}).inc();
  const bool keep = keep_alive_ && !close_after;
  response_ = std::make_unique<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
  if (!r.content_type.empty()) response_->set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : ctx_.cors.response_headers(origin_)) response_->set(name, value);
  for (const auto& [name, value] : r.headers) response_->set(name, value);
  response_->body() = std::move(r.body);
  response_->keep_alive(keep);
  response_->prepare_payload();
  if (r.status == 204) response_->erase(http::field::content_length);  // a 204 has no body to measure
  arm(Clock::now() + ctx_.options.write_timeout);
  http::async_write(socket_, *response_, [self = shared_from_this(), keep](ErrorCode ec, size_t) {
    self->response_.reset();
    if (ec) return self->close();
    if (!keep) return self->linger_close();
    self->wait_request();
  });
}

void HttpConnection::start_engine_reply(EngineReply reply) {
  phase_ = Phase::engine_reply;
  ++ctx_.open_streams;
  reply_ = std::move(reply);
  reply_->channel->set_notify([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->wake();
  });
  // The timer's wait also keeps this connection alive while the reply lasts, whatever else is
  // pending (a non-streamed reply writes nothing until the job ends).
  request_timer_.expires_at(reply_->deadline.value_or(Clock::time_point::max()));
  request_timer_.async_wait([self = shared_from_this()](ErrorCode ec) {
    if (ec || !self->reply_) return;
    if (deadline_passed(self->reply_->deadline, *self->reply_->channel)) {
      if (auto e = self->reply_->engine.lock()) e->cancel(self->reply_->job_id);
      log::info("request_timeout", "request ran past its time limit; job cancelled",
                {{"job_id", self->reply_->job_id}});
    }
  });
  watch_disconnect();
  if (!reply_->sse) return pump();

  ctx_.metrics->requests.with({path_, "ok"}).inc();
  stream_head_ = std::make_unique<http::response<http::empty_body>>(http::status::ok, 11);
  stream_head_->set(http::field::content_type, "text/event-stream");
  stream_head_->set(http::field::cache_control, "no-cache");
  stream_head_->set("X-Accel-Buffering", "no");
  for (const auto& [name, value] : ctx_.cors.response_headers(origin_)) stream_head_->set(name, value);
  stream_head_->keep_alive(keep_alive_);
  stream_head_->chunked(true);
  stream_serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*stream_head_);
  writing_ = true;
  arm(Clock::now() + ctx_.options.write_timeout);
  http::async_write_header(socket_, *stream_serializer_,
                           [self = shared_from_this()](ErrorCode ec, size_t) { self->stream_written(ec); });
}

// A part of a stream (its head or a chunk) is out: the next one, or a client gone on error.
void HttpConnection::stream_written(ErrorCode ec) {
  writing_ = false;
  if (ec) {
    give_up();
    return close();
  }
  timer_.cancel();
  pump();
}

// On the engine's event thread: one wake-up queued at a time, however many events come meanwhile.
void HttpConnection::wake() {
  if (wake_pending_.exchange(true)) return;
  asio::post(executor_, [self = shared_from_this()] {
    self->wake_pending_ = false;
    self->pump();
  });
}

// Events are turned into bytes here, on the connection's strand, as they are written: what came
// while a write was out goes in the next chunk.
void HttpConnection::pump() {
  if (!reply_ || writing_ || phase_ != Phase::engine_reply) return;
  const bool closed = reply_->channel->take(events_);
  out_.clear();
  reply_->format->add(events_, out_);
  events_.clear();
  if (!reply_->sse) {
    if (!closed) return;
    HttpResponse r = reply_->format->response();
    end_reply();
    return respond(std::move(r));
  }
  if (!out_.empty()) {
    writing_ = true;
    arm(Clock::now() + ctx_.options.write_timeout);
    asio::async_write(socket_, http::make_chunk(asio::buffer(out_)),
                      [self = shared_from_this()](ErrorCode ec, size_t) { self->stream_written(ec); });
    return;
  }
  if (!closed) return;
  writing_ = true;
  arm(Clock::now() + ctx_.options.write_timeout);
  asio::async_write(socket_, http::make_chunk_last(), [self = shared_from_this()](ErrorCode ec, size_t) {
    self->writing_ = false;
    self->end_reply();
    if (ec) return self->close();
    if (!self->keep_alive_) return self->linger_close();
    self->wait_request();
  });
}

// A client that closes its connection while its job runs is noticed at once, not at the next write.
void HttpConnection::watch_disconnect() {
  socket_.async_wait(Socket::wait_read, [self = shared_from_this()](ErrorCode ec) {
    if (ec || !self->reply_) return;
    char c;
    const ssize_t n = ::recv(self->socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      self->give_up();
      return self->close();
    }
    // Readiness may be reported with nothing to read: watch on.
    if (n < 0) return self->watch_disconnect();
    // Otherwise the client sent its next request early; it is read after this response.
  });
}

// Called from a failed write, a timed-out one and a vanished client: act once, and only for a job
// that has not ended.
void HttpConnection::give_up() {
  if (!reply_) return;
  auto& channel = *reply_->channel;
  if (channel.closed() || channel.client_gone()) return;
  channel.mark_client_gone();
  if (auto e = reply_->engine.lock()) e->cancel(reply_->job_id);
  log::info("client_gone", "client disconnected; job cancelled", {{"job_id", reply_->job_id}});
}

void HttpConnection::end_reply() {
  if (!reply_) return;
  reply_->channel->set_notify({});
  request_timer_.cancel();
  if (reply_->on_end) reply_->on_end();
  --ctx_.open_streams;
  reply_.reset();
  stream_serializer_.reset();
  stream_head_.reset();
  out_ = {};
  events_ = {};
}

// ---- timers and ending ----

void HttpConnection::arm(Clock::time_point deadline) {
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this()](ErrorCode ec) {
    // A timer re-armed after it fired but before this ran is not a timeout.
    if (ec || self->timer_.expiry() > Clock::now()) return;
    if (self->phase_ == Phase::engine_reply) self->give_up();
    self->close();
  });
}

void HttpConnection::linger_close() {
  phase_ = Phase::closing;
  ErrorCode ignored;
  socket_.shutdown(Socket::shutdown_send, ignored);
  arm(Clock::now() + kLingerTime);
  buffer_.consume(buffer_.size());
  discard_until_closed();
}

void HttpConnection::discard_until_closed() {
  socket_.async_read_some(buffer_.prepare(16 * 1024), [self = shared_from_this()](ErrorCode ec, size_t) {
    if (ec || self->phase_ != Phase::closing) return self->close();
    self->discard_until_closed();
  });
}

void HttpConnection::close() {
  if (phase_ == Phase::closed) return;
  phase_ = Phase::closed;
  give_up();
  end_reply();
  timer_.cancel();
  request_timer_.cancel();
  ErrorCode ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace rbees::server
