#pragma once
// Hands the jobs' events (tokens, prompt log-probabilities, ends) to their sinks. With a thread of
// its own, the engine's thread only queues a step's events and hands them over once, at the end of
// the step: the sinks' work (a lock and a wake-up of an HTTP thread per token) then overlaps the
// next step's compute instead of adding to it. One queue and one thread keep each sink's events in
// the order they were posted. A sink that throws is marked failed (the job's flag), and the engine
// cancels its job at its next step. Without a thread, every post is delivered at once.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "engine/engine.hpp"

namespace rbees::engine {

// A job's sink as the outbox's thread reports on it, kept beside the job (Job::sink_status): set
// once per job, so that an event carries a pointer, not a copy of the id.
struct SinkStatus {
  std::atomic<bool> failed = false;  // the sink threw: the engine cancels the job at its next step
  std::string job_id;                // for the log line that says so
};

class EventOutbox {
 public:
  using Payload = std::variant<TokenEvent, std::vector<PromptTokenLogprob>, FinalResult>;

  explicit EventOutbox(bool own_thread);
  ~EventOutbox();  // delivers what was handed over, then stops
  EventOutbox(const EventOutbox&) = delete;
  EventOutbox& operator=(const EventOutbox&) = delete;

  // From the engine's thread only. `status->failed` is set when the sink throws.
  void post(std::shared_ptr<Sink> sink, std::shared_ptr<SinkStatus> status, Payload payload);
  // From the engine's thread: hands what was posted since the last flush to the delivering thread.
  void flush();
  // From any thread: returns once everything flushed so far has reached its sink.
  void wait_drained();
  bool own_thread() const { return thread_.joinable(); }

 private:
  struct Event {
    std::shared_ptr<Sink> sink;
    std::shared_ptr<SinkStatus> status;
    Payload payload;
  };
  static void deliver(Event& e);
  void run();

  std::vector<Event> posted_;  // the engine's thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable drained_cv_;
  std::vector<Event> queue_;  // handed over, not yet taken by the delivering thread
  bool delivering_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace rbees::engine
