#pragma once
// The open connections, oldest first, and the --max-connections cap: at the cap the oldest
// connection that has no request in progress (idle, or still sending its headers) is closed to make
// room; when every connection is busy the new one is refused.

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>

namespace rbees::server {

class RegisteredConnection {
 public:
  virtual ~RegisteredConnection() = default;
  // Between requests or still receiving a request's headers: nothing is lost by closing it.
  virtual bool idle() const = 0;
  // Closes it soon, on its own thread.
  virtual void close_soon() = 0;
};

class ConnectionRegistry {
  struct Entry {
    std::weak_ptr<RegisteredConnection> connection;
    bool evicted = false;
  };

 public:
  using Handle = std::list<Entry>::iterator;

  explicit ConnectionRegistry(size_t max_connections) : max_(max_connections) {}

  // Whether a new connection may be added, closing the oldest idle one when at the cap.
  bool make_room();
  Handle add(std::weak_ptr<RegisteredConnection> connection);
  void remove(Handle handle);
  // Open connections, those being closed to make room left out.
  size_t size() const;

 private:
  const size_t max_;
  mutable std::mutex mu_;
  std::list<Entry> entries_;
  size_t evicted_ = 0;
};

}  // namespace rbees::server
