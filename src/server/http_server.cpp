#include "server/http_server.hpp"

#include "core/log.hpp"
#include "server/deadline_sink.hpp"
#include "server/execute_request.hpp"
#include "server/execute_sink.hpp"
#include "server/openai_request.hpp"
#include "server/openai_sink.hpp"
#include "server/request_timing.hpp"
#include "server/sse.hpp"
#include "server/stream_channel.hpp"

#include <httplib.h>
#include <sys/socket.h>
#include <thread>

#include <random>

namespace rbees::server {

using nlohmann::json;

namespace {

constexpr auto kStreamPoll = std::chrono::milliseconds(200);
// Connections the kernel may hold for accept(); cpp-httplib's 5 makes a burst of clients wait a
// second (a SYN retransmit) each.
constexpr int kListenBacklog = 1024;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

bool is_openai_path(const std::string& path) {
  return path.rfind("/v1/", 0) == 0 || path == "/tokenize" || path == "/detokenize";
}

// 503 bodies carry the worker protocol's {"code","message","retriable"} on every endpoint; OpenAI
// endpoints add OpenAI's "error" object beside them, which is what OpenAI clients read.
void send_unavailable(httplib::Response& res, const std::string& path, const std::string& code,
                      const std::string& message, int retry_after) {
  if (retry_after > 0) res.set_header("Retry-After", std::to_string(retry_after));
  json body = {{"code", code}, {"message", message}, {"retriable", true}};
  if (is_openai_path(path)) body["error"] = openai_error_body(message, "server_error", std::nullopt, code)["error"];
  send_json(res, 503, body);
}

// The parsed header lines together, as they came ("Name: value\r\n").
size_t header_bytes(const httplib::Request& req) {
  size_t n = 0;
  for (const auto& [name, value] : req.headers) n += name.size() + value.size() + 4;
  return n;
}

// A refusal by one of the HTTP limits (res.status already set), in the endpoint's API's error shape,
// naming the limit.
void send_limit_error(const httplib::Request& req, httplib::Response& res, const std::string& what,
                      const std::string& limit) {
  const std::string message = what + ": " + limit;
  if (is_openai_path(req.path)) {
    send_json(res, res.status, openai_error_body(message, "invalid_request_error", std::nullopt, std::nullopt));
  } else {
    send_json(res, res.status, {{"code", "INVALID_REQUEST"}, {"message", message}, {"retriable", false}});
  }
}

std::string random_id(const std::string& prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return prefix + buf;
}

std::string outcome_of(int status) {
  if (status >= 200 && status < 300) return "ok";
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 404: return "not_found";
    case 413:
    case 414:
    case 431: return "too_large";
    case 503: return "unavailable";
    default: return "error";
  }
}

// Streams a channel's frames as a chunked text/event-stream; a failed write or a connection closed
// before the stream's end cancels the job.
void stream_channel(httplib::Response& res, std::shared_ptr<StreamChannel> channel,
                    std::shared_ptr<engine::Engine> engine, std::string job_id,
                    std::shared_ptr<std::atomic<int>> open_streams, Deadline deadline) {
  ++*open_streams;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto give_up = [channel, engine, job_id] {
    // Called from a failed write and again when the response is released: act once.
    if (channel->closed() || channel->client_gone()) return;
    channel->mark_client_gone();
    engine->cancel(job_id);
    log::info("client_gone", "client disconnected; job cancelled", {{"job_id", job_id}});
  };
  res.set_chunked_content_provider(
      "text/event-stream",
      [channel, give_up, engine, job_id, deadline](size_t, httplib::DataSink& sink) {
        if (deadline_passed(deadline, *channel)) {
          engine->cancel(job_id);
          log::info("request_timeout", "request ran past its time limit; job cancelled", {{"job_id", job_id}});
        }
        auto batch = channel->pop(kStreamPoll);
        if (!batch.data.empty() && !sink.write(batch.data.data(), batch.data.size())) {
          give_up();
          return false;
        }
        if (batch.closed) {
          sink.done();
        } else if (sink.is_writable && !sink.is_writable()) {
          give_up();
          return false;
        }
        return true;
      },
      [give_up, open_streams](bool /*success*/) {
        give_up();
        --*open_streams;
      });
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, std::shared_ptr<WorkerMetrics> metrics)
    : options_(std::move(options)),
      metrics_(metrics ? std::move(metrics) : std::make_shared<WorkerMetrics>()),
      auth_(options_.api_key),
      http_(std::make_unique<httplib::Server>()),
      started_(std::chrono::steady_clock::now()),
      started_wall_(std::chrono::system_clock::now()) {
  install_routes();
}

HttpServer::~HttpServer() {
  stop();
}

int HttpServer::bind(const std::string& host, int port) {
  const int bound = port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  // listen() again on a listening socket only changes its backlog.
  if (bound > 0 && listen_fd_ >= 0) ::listen(listen_fd_, kListenBacklog);
  return bound;
}

bool HttpServer::listen() {
  return http_->listen_after_bind();
}

void HttpServer::stop() {
  // Streams whose jobs have ended still hold their last events (end, or error CANCELLED after a
  // drain); stopping the listener first would cut them off. Bounded, so a stuck client cannot hold
  // the shutdown.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (*open_streams_ > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (http_) http_->stop();
}

void HttpServer::set_engine(std::shared_ptr<engine::Engine> engine) {
  {
    std::lock_guard lock(engine_mu_);
    engine_ = std::move(engine);
  }
  State expected = State::loading;
  state_.compare_exchange_strong(expected, State::healthy);
}

void HttpServer::begin_drain() {
  state_ = State::draining;
}

std::shared_ptr<engine::Engine> HttpServer::engine() const {
  std::lock_guard lock(engine_mu_);
  return engine_;
}

Deadline HttpServer::deadline_from_now() const {
  if (options_.request_timeout.count() <= 0) return std::nullopt;
  return std::chrono::steady_clock::now() + options_.request_timeout;
}

std::shared_ptr<engine::Sink> HttpServer::with_deadline(std::shared_ptr<engine::Sink> sink,
                                                        std::shared_ptr<StreamChannel> channel) const {
  if (options_.request_timeout.count() <= 0) return sink;
  char limit[32];
  std::snprintf(limit, sizeof limit, "%g s", std::chrono::duration<double>(options_.request_timeout).count());
  return std::make_shared<DeadlineSink>(std::move(sink), std::move(channel), limit);
}

void HttpServer::install_routes() {
  auto& s = *http_;
  const int threads = options_.http_threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(options_.max_body_bytes);
  s.set_read_timeout(options_.read_timeout);
  s.set_write_timeout(options_.write_timeout);
  s.set_keep_alive_timeout(options_.idle_timeout_s);
  // cpp-httplib's default options add SO_REUSEPORT, with which a second worker binds a port already
  // in use and silently takes part of its connections; SO_REUSEADDR alone lets a restarted worker
  // rebind at once and a second one fail.
  s.set_socket_options([this](int fd) {
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = fd;
  });

  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Before authentication and before the body is read. cpp-httplib has already bounded each line;
    // this bounds them together.
    if (header_bytes(req) > options_.max_header_bytes) {
      res.status = 431;
      send_limit_error(req, res, "request headers too large",
                       "at most " + std::to_string(options_.max_header_bytes) + " bytes (--max-header-size)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path == "/health" || auth_.allows(req.get_header_value("Authorization"))) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    if (is_openai_path(req.path)) {
      send_json(res, 401,
                openai_error_body("invalid or missing API key", "invalid_request_error", std::nullopt,
                                  std::string("invalid_api_key")));
    } else {
      send_json(res, 401, {{"code", "UNAUTHORIZED"}, {"message", "invalid or missing API key"}, {"retriable", false}});
    }
    return httplib::Server::HandlerResponse::Handled;
  });

  // Fills in bodies for errors httplib raises itself (404, 413, ...); ours already have one.
  s.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    switch (res.status) {
      case 404: break;
      case 413:
        send_limit_error(req, res, "request body too large",
                         "at most " + std::to_string(options_.max_body_bytes) + " bytes (--max-body-size)");
        return httplib::Server::HandlerResponse::Handled;
      case 414:
        send_limit_error(req, res, "request line too long", "at most 8192 bytes");
        return httplib::Server::HandlerResponse::Handled;
      case 400:
        // Raised by httplib when a header line is over its limit, or the request is garbage.
        send_limit_error(req, res, "malformed request",
                         "the request line, a header or the body's framing could not be read; a header line may be "
                         "at most 8192 bytes");
        return httplib::Server::HandlerResponse::Handled;
      default: break;
    }
    const std::string message =
        res.status == 404 ? "no such endpoint: " + req.method + " " + req.path : "request failed";
    if (is_openai_path(req.path)) {
      send_json(res, res.status, openai_error_body(message, "invalid_request_error", std::nullopt, std::nullopt));
    } else {
      send_json(res, res.status, {{"code", res.status == 404 ? "NOT_FOUND" : "INVALID_REQUEST"}, {"message", message}});
    }
    return httplib::Server::HandlerResponse::Handled;
  }));

  // Runs for every response (401s, 404s and errors included) just before it is written, so a client
  // that has its answer also sees it counted.
  s.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    static const std::vector<std::string> known = {"/health",    "/execute",        "/cancel",
                                                   "/v1/models", "/v1/completions", "/v1/chat/completions",
                                                   "/tokenize",  "/detokenize",     "/metrics"};
    const bool is_known = std::find(known.begin(), known.end(), req.path) != known.end();
    metrics_->requests.with({is_known ? req.path : "other", outcome_of(res.status)}).inc();
  });

  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string message = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    log::error("http_exception", message);
    send_json(res, 500, {{"code", "INFERENCE_FAILED"}, {"message", message}, {"retriable", false}});
  });

  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const State st = state_;
    json body = {
        {"status", st == State::loading    ? "loading"
                   : st == State::draining ? "draining"
                                           : "healthy"},
        {"worker_id", options_.worker_id},
        {"uptime_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()}};
    if (auto e = engine()) {
      const auto h = e->health();
      body["model"] = h.model;
      body["device"] = h.device;
      body["resident"] = h.resident;
      body["quant_kind"] = h.quant_kind;
      body["vram_bytes"] = h.vram_bytes;
      body["tokenizer_kind"] = h.tokenizer_kind;
      body["vocab_size"] = h.vocab_size;
      body["context_length"] = h.context_length;
      body["kv_cache_tokens"] = h.kv_cache_tokens;
      body["max_seqs"] = h.max_seqs;
    }
    send_json(res, st == State::healthy ? 200 : 503, body);
  });

  // The engine for a work request, or nullptr after answering 503 (loading or draining).
  auto ready_engine = [this](const httplib::Request& req, httplib::Response& res) -> std::shared_ptr<engine::Engine> {
    const State st = state_;
    if (st == State::draining) {
      send_unavailable(res, req.path, "SHUTTING_DOWN", "the worker is shutting down", 0);
      return nullptr;
    }
    auto e = engine();
    if (st == State::loading || !e) {
      send_unavailable(res, req.path, "LOADING", "the model is still loading", options_.retry_after_seconds);
      return nullptr;
    }
    return e;
  };

  // Admission refusals: 503 OVERLOADED / SHUTTING_DOWN, or 400 for a request the context cannot hold.
  auto refuse = [this](const httplib::Request& req, httplib::Response& res, const engine::SubmitResult& r) {
    switch (r.admission) {
      case engine::Admission::overloaded:
        send_unavailable(res, req.path, "OVERLOADED", r.message.empty() ? "the queue is full" : r.message,
                         options_.retry_after_seconds);
        break;
      case engine::Admission::shutting_down:
        send_unavailable(res, req.path, "SHUTTING_DOWN", "the worker is shutting down", 0);
        break;
      default: {
        FieldErrors errors = {{"max_tokens", "context_length", r.message, std::nullopt}};
        send_json(res, 400, is_openai_path(req.path) ? openai_error_body(errors) : worker_error_body(errors));
      }
    }
  };

  // POST bodies are read here rather than by httplib, which bounds only bodies that state a
  // Content-Length: a chunked one would be read whole, however large.
  using BodyHandler = std::function<void(const httplib::Request&, const std::string&, httplib::Response&)>;
  auto post = [this, &s](const std::string& path, BodyHandler handler) {
    s.Post(path, [this, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                                      const httplib::ContentReader& read) {
      std::string body;
      bool too_large = false;
      const bool complete = read([&](const char* data, size_t len) {
        too_large = body.size() + len > options_.max_body_bytes;
        if (!too_large) body.append(data, len);
        return !too_large;
      });
      if (too_large || res.status == 413) {  // 413: httplib's own check of Content-Length
        res.status = 413;
        return send_limit_error(req, res, "request body too large",
                                "at most " + std::to_string(options_.max_body_bytes) + " bytes (--max-body-size)");
      }
      if (!complete) {
        res.status = 400;
        return send_limit_error(req, res, "malformed request", "the body could not be read");
      }
      handler(req, body, res);
    });
  };

  post("/execute",
       [this, ready_engine, refuse](const httplib::Request& req, const std::string& body, httplib::Response& res) {
         auto parsed = parse_execute_request(body);
         if (!parsed.ok()) return send_json(res, 400, worker_error_body(parsed.errors));
         auto e = ready_engine(req, res);
         if (!e) return;
         const Deadline deadline = deadline_from_now();
         engine::Request request = std::move(*parsed.value);
         const std::string job_id = request.job_id;
         auto channel = std::make_shared<StreamChannel>();
         // `started` is queued before submission so that it precedes any token the engine sends.
         channel->push(sse_frame(started_event(job_id, e->health().model, std::chrono::system_clock::now())));
         auto sink = with_deadline(std::make_shared<ExecuteSink>(channel, metrics_, e->health().vram_bytes), channel);
         const auto admitted = e->submit(std::move(request), sink);
         if (admitted.admission != engine::Admission::accepted) return refuse(req, res, admitted);
         log::info("job_admitted", "job admitted", {{"job_id", job_id}, {"prompt_tokens", admitted.prompt_tokens}});
         stream_channel(res, channel, e, job_id, open_streams_, deadline);
       });

  post("/cancel", [this](const httplib::Request&, const std::string& body, httplib::Response& res) {
    auto parsed = parse_cancel_request(body);
    if (!parsed.ok()) return send_json(res, 400, worker_error_body(parsed.errors));
    bool found = false;
    if (auto e = engine()) found = e->cancel(parsed.value->job_id);
    send_json(res, 202, {{"job_id", parsed.value->job_id}, {"cancelled", found}});
  });

  auto openai = [this, ready_engine, refuse](const httplib::Request& req, const std::string& body,
                                             httplib::Response& res, bool chat) {
    auto parsed = chat ? parse_chat_completion_request(body) : parse_completion_request(body);
    if (!parsed.ok()) return send_json(res, 400, openai_error_body(parsed.errors));
    auto e = ready_engine(req, res);
    if (!e) return;
    const Deadline deadline = deadline_from_now();
    OpenAiRequest o = std::move(*parsed.value);
    OpenAiContext ctx;
    ctx.id = random_id(chat ? "chatcmpl-" : "cmpl-");
    ctx.model = e->health().model;
    ctx.created =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    ctx.chat = chat;
    ctx.stream = o.stream;
    ctx.include_usage = o.include_usage;
    ctx.logprobs = o.request.logprobs;
    if (o.request.echo && !chat) {
      if (auto* text = std::get_if<engine::TextPrompt>(&o.request.prompt)) ctx.echo_prefix = text->text;
      if (auto* ids = std::get_if<engine::TokenPrompt>(&o.request.prompt)) ctx.echo_prefix = e->detokenize(ids->ids);
    }
    o.request.job_id = ctx.id;
    auto channel = std::make_shared<StreamChannel>();
    auto sink = std::make_shared<OpenAiSink>(ctx, e, channel, metrics_);
    const auto admitted = e->submit(std::move(o.request), with_deadline(sink, channel));
    if (admitted.admission != engine::Admission::accepted) return refuse(req, res, admitted);
    if (ctx.stream) return stream_channel(res, channel, e, ctx.id, open_streams_, deadline);
    if (deadline && !channel->wait_closed_until(*deadline) && deadline_passed(deadline, *channel)) {
      e->cancel(ctx.id);
      log::info("request_timeout", "request ran past its time limit; job cancelled", {{"job_id", ctx.id}});
    }
    channel->wait_closed();
    send_json(res, sink->status(), sink->response());
  };
  post("/v1/completions", [openai](const httplib::Request& req, const std::string& body, httplib::Response& res) {
    openai(req, body, res, false);
  });
  post("/v1/chat/completions", [openai](const httplib::Request& req, const std::string& body, httplib::Response& res) {
    openai(req, body, res, true);
  });

  s.Get("/v1/models", [this, ready_engine](const httplib::Request& req, httplib::Response& res) {
    auto e = ready_engine(req, res);
    if (!e) return;
    const auto created = std::chrono::duration_cast<std::chrono::seconds>(started_wall_.time_since_epoch()).count();
    send_json(res, 200,
              {{"object", "list"},
               {"data", json::array({{{"id", e->health().model},
                                      {"object", "model"},
                                      {"created", created},
                                      {"owned_by", "rbees-workerd"}}})}});
  });

  post("/tokenize", [ready_engine](const httplib::Request& req, const std::string& body, httplib::Response& res) {
    auto parsed = parse_tokenize_request(body);
    if (!parsed.ok()) return send_json(res, 400, openai_error_body(parsed.errors));
    auto e = ready_engine(req, res);
    if (!e) return;
    send_json(res, 200, {{"tokens", e->tokenize(parsed.value->content, parsed.value->add_special)}});
  });

  post("/detokenize", [ready_engine](const httplib::Request& req, const std::string& body, httplib::Response& res) {
    auto parsed = parse_detokenize_request(body);
    if (!parsed.ok()) return send_json(res, 400, openai_error_body(parsed.errors));
    auto e = ready_engine(req, res);
    if (!e) return;
    const auto vocab = e->health().vocab_size;
    for (size_t i = 0; i < parsed.value->tokens.size(); ++i) {
      if (vocab > 0 && parsed.value->tokens[i] >= vocab) {
        FieldErrors errors = {{"tokens[" + std::to_string(i) + "]", "range(0..=" + std::to_string(vocab - 1) + ")",
                               "is not a token id of this model", json(parsed.value->tokens[i])}};
        return send_json(res, 400, openai_error_body(errors));
      }
    }
    send_json(res, 200, {{"content", e->detokenize(parsed.value->tokens)}});
  });

  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    metrics_->uptime_seconds.set(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
    if (auto e = engine()) {
      const auto st = e->stats();
      metrics_->queue_length.set(static_cast<double>(st.queue_length));
      metrics_->running_sequences.set(static_cast<double>(st.running_sequences));
      metrics_->kv_cache_usage_ratio.set(st.kv_cache_usage_ratio);
      metrics_->vram_bytes.set(static_cast<double>(e->health().vram_bytes));
    }
    res.set_content(metrics_->registry.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace rbees::server
