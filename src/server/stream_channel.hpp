#pragma once
// Hands response bytes from the engine's thread to the HTTP thread that writes them: a queue of
// frames with a condition variable, closed once the last frame is in. Also carries the other
// direction's news: that the client has gone away.

#include <atomic>
#include <chrono>
#include <condition_variable>
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
  // Waits up to `wait` for data or close.
  Batch pop(std::chrono::milliseconds wait);
  // Waits until closed (non-streaming responses).
  void wait_closed();
  bool closed() const;

  void mark_client_gone() { client_gone_ = true; }
  bool client_gone() const { return client_gone_; }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  bool closed_ = false;
  std::atomic<bool> client_gone_{false};
};

}  // namespace rbees::server
