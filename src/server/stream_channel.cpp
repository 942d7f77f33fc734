#include "server/stream_channel.hpp"

namespace rbees::server {

void StreamChannel::push(std::string frame) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (pending_.empty()) {
      pending_ = std::move(frame);
    } else {
      pending_ += frame;
    }
  }
  cv_.notify_all();
  notify();
}

void StreamChannel::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  notify();
}

void StreamChannel::notify() {
  std::lock_guard lock(notify_mu_);
  if (notify_) notify_();
}

void StreamChannel::set_notify(std::function<void()> notify) {
  std::lock_guard lock(notify_mu_);
  notify_ = std::move(notify);
}

StreamChannel::Batch StreamChannel::take() {
  std::lock_guard lock(mu_);
  Batch b;
  b.data.swap(pending_);
  b.closed = closed_;
  return b;
}

StreamChannel::Batch StreamChannel::pop(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, wait, [&] { return !pending_.empty() || closed_; });
  Batch b;
  b.data.swap(pending_);
  b.closed = closed_;
  return b;
}

void StreamChannel::wait_closed() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return closed_; });
}

bool StreamChannel::wait_closed_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return closed_; });
}

bool StreamChannel::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

}  // namespace rbees::server
