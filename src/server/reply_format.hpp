#pragma once
// Turns a job's events into its response, on the front end's thread that writes it (the
// connection's strand), so that the engine's thread spends no time on JSON or SSE.

#include "server/http_message.hpp"
#include "server/stream_event.hpp"

#include <span>
#include <string>

namespace rbees::server {

class ReplyFormat {
 public:
  virtual ~ReplyFormat() = default;
  // A streamed reply: appends these events' SSE frames to `out`; the first call also writes what
  // opens the stream, events or not. A reply not streamed: takes the events into its response.
  virtual void add(std::span<const StreamEvent> events, std::string& out) = 0;
  // A reply not streamed: the response, once the channel has closed and every event is added.
  virtual HttpResponse response() { return {}; }
};

}  // namespace rbees::server
