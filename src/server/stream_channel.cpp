#include "server/stream_channel.hpp"

namespace rbees::server {

void StreamChannel::push(StreamEvent event) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    pending_.push_back(std::move(event));
  }
  notify();
}

void StreamChannel::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
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

bool StreamChannel::take(std::vector<StreamEvent>& into) {
  into.clear();
  std::lock_guard lock(mu_);
  into.swap(pending_);
  return closed_;
}

bool StreamChannel::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

}  // namespace rbees::server
