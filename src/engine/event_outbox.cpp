#include "engine/event_outbox.hpp"

#include <exception>
#include <utility>

#include "core/log.hpp"

namespace rbees::engine {

EventOutbox::EventOutbox(bool own_thread) {
  if (own_thread) thread_ = std::thread([this] { run(); });
}

EventOutbox::~EventOutbox() {
  if (!thread_.joinable()) return;
  flush();
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void EventOutbox::post(std::shared_ptr<Sink> sink, std::shared_ptr<SinkStatus> status, Payload payload) {
  Event e{std::move(sink), std::move(status), std::move(payload)};
  if (!thread_.joinable()) {
    deliver(e);
    return;
  }
  posted_.push_back(std::move(e));
}

void EventOutbox::flush() {
  if (posted_.empty()) return;
  {
    std::lock_guard lk(mu_);
    if (queue_.empty()) {
      queue_.swap(posted_);
    } else {
      for (auto& e : posted_) queue_.push_back(std::move(e));
      posted_.clear();
    }
  }
  cv_.notify_one();
}

void EventOutbox::wait_drained() {
  if (!thread_.joinable()) return;
  std::unique_lock lk(mu_);
  drained_cv_.wait(lk, [&] { return queue_.empty() && !delivering_; });
}

void EventOutbox::deliver(Event& e) {
  try {
    if (auto* t = std::get_if<TokenEvent>(&e.payload)) {
      e.sink->on_token(*t);
    } else if (auto* p = std::get_if<std::vector<PromptTokenLogprob>>(&e.payload)) {
      e.sink->on_prompt_logprobs(*p);
    } else {
      e.sink->on_finish(std::get<FinalResult>(e.payload));
    }
  } catch (const std::exception& ex) {
    log::warn("sink_failed", ex.what(), {{"job_id", e.status ? e.status->job_id : std::string()}});
    if (e.status) e.status->failed.store(true);
  }
}

void EventOutbox::run() {
  std::vector<Event> batch;
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything delivered
    batch.swap(queue_);
    delivering_ = true;
    lk.unlock();
    for (auto& e : batch) deliver(e);
    // The sinks are let go of here, not under the lock: a sink's last owner may be this batch.
    batch.clear();
    lk.lock();
    delivering_ = false;
    if (queue_.empty()) drained_cv_.notify_all();
  }
}

}  // namespace rbees::engine
