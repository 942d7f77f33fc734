#pragma once
// Hands response bytes from the engine's thread to the front end that writes them: a queue of
// frames, closed once the last frame is in, and a wake-up for the writer when something arrives.
// Also carries the other direction's news: that the client has gone away.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

namespace rbees::server {

class StreamChannel {
 public:
  void push(std::string frame);
  void close();  // no more frames will come

  struct Batch {
    std::string data;     // every frame queued so far, concatenated
    bool closed = false;  // and nothing will follow
  };
  // What is queued now, without waiting.
  Batch take();
  // Waits up to `wait` for data or close.
  Batch pop(std::chrono::milliseconds wait);
  // Waits until closed.
  void wait_closed();
  // The same, up to a deadline; true when closed.
  bool wait_closed_until(std::chrono::steady_clock::time_point deadline);
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
  std::condition_variable cv_;
  std::string pending_;
  bool closed_ = false;
  std::mutex notify_mu_;
  std::function<void()> notify_;
  std::atomic<bool> client_gone_{false};
  std::atomic<bool> timed_out_{false};
};

}  // namespace rbees::server
