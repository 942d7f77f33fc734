#include "server/connection_registry.hpp"

namespace rbees::server {

bool ConnectionRegistry::make_room() {
  std::shared_ptr<RegisteredConnection> victim;
  {
    std::lock_guard lock(mu_);
    if (entries_.size() - evicted_ < max_) return true;
    for (auto& e : entries_) {
      if (e.evicted) continue;
      auto c = e.connection.lock();
      if (c && c->idle()) {
        e.evicted = true;
        ++evicted_;
        victim = std::move(c);
        break;
      }
    }
  }
  if (!victim) return false;
  victim->close_soon();
  return true;
}

ConnectionRegistry::Handle ConnectionRegistry::add(std::weak_ptr<RegisteredConnection> connection) {
  std::lock_guard lock(mu_);
  entries_.push_back({std::move(connection), false});
  return std::prev(entries_.end());
}

void ConnectionRegistry::remove(Handle handle) {
  std::lock_guard lock(mu_);
  if (handle->evicted) --evicted_;
  entries_.erase(handle);
}

size_t ConnectionRegistry::size() const {
  std::lock_guard lock(mu_);
  return entries_.size() - evicted_;
}

}  // namespace rbees::server
