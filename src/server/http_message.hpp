#pragma once
// What the front end hands an endpoint and what the endpoint gives back, free of any HTTP library:
// a request read whole (headers and body), and a reply that is either a complete response or one
// whose body the engine produces over time.

#include "engine/engine.hpp"
#include "server/deadline_sink.hpp"
#include "server/stream_channel.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rbees::server {

class ReplyFormat;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target without its query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  uint64_t connection_id = 0;  // the connection it came on, unique for the server's life

  // The first header of that name (case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// A response that follows a job in the engine: `format` turns its channel's events into the
// response, on the connection's strand. With `sse` they are sent as a text/event-stream while they
// come; otherwise the response is sent once the channel has closed. The front end cancels the job
// when the client goes away or the deadline passes, and calls `on_end` once, whatever happened.
struct EngineReply {
  std::shared_ptr<StreamChannel> channel;
  std::shared_ptr<ReplyFormat> format;
  // Not owned: a connection may outlive the engine's last owner, and its last reference may drop
  // on the engine's own thread (a channel's wake-up), where destroying the engine would join itself.
  std::weak_ptr<engine::Engine> engine;
  std::string job_id;
  Deadline deadline;
  bool sse = true;
  std::function<void()> on_end;
};

struct Reply {
  HttpResponse response;  // used when `engine` is empty
  std::optional<EngineReply> engine;
};

}  // namespace rbees::server
