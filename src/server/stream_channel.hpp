#pragma once
// Hands a job's events from the engine's event thread to the front end that answers the request: a queue
// of events, closed once the last one is in, and a wake-up for the writer when something arrives.
// Also carries the other direction's news: that the client has gone away.

#include "server/stream_event.hpp"

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

namespace rbees::server {

class StreamChannel {
 public:
  void push(StreamEvent event);
  void close();  // no more events will come

  // Moves every event queued so far into `into` (emptied first; its storage is kept for the next
  // pushes), without waiting. True when the channel is closed: nothing will follow them.
  bool take(std::vector<StreamEvent>& into);
  bool closed() const;

  // Called after each push and at close, on the pushing thread; cleared (empty function) by the
  // reader before it goes away. The call and the clearing exclude each other.
  void set_notify(std::function<void()> notify);

  void mark_client_gone() { client_gone_ = true; }
  bool client_gone() const { return client_gone_; }

  // Set when the request ran past its time limit and was cancelled for it, so that the sink reports
  // a timeout rather than a cancellation.
  void mark_timed_out() { timed_out_ = true; }
  bool timed_out() const { return timed_out_; }

 private:
  void notify();

  mutable std::mutex mu_;
  std::vector<StreamEvent> pending_;
  bool closed_ = false;
  std::mutex notify_mu_;
  std::function<void()> notify_;
  std::atomic<bool> client_gone_{false};
  std::atomic<bool> timed_out_{false};
};

}  // namespace rbees::server
