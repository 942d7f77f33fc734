#pragma once
// Test support: a plain loopback TCP connection for requests an HTTP client library will not send
// (oversized or unfinished headers, silence), with every read bounded.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

namespace rbees::app::testing {

class RawConnection {
 public:
  explicit RawConnection(int port) : opened_(std::chrono::steady_clock::now()) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }

  bool send_all(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Ends what this side sends (a body without a length ends here).
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // Reads until the peer closes the connection or `limit` passes. Returns how long after connecting
  // the peer closed, or nullopt when it did not close in time. What was read is in received().
  std::optional<std::chrono::milliseconds> read_until_closed(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[16384];
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - opened_);
      }
      received_.append(buf, static_cast<size_t>(n));
    }
  }

  // Reads until `text` has arrived (true), the peer closes or `limit` passes.
  bool read_until(const std::string& text, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[16384];
    while (received_.find(text) == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      received_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  const std::string& received() const { return received_; }
  // The status code of the first response received, or 0.
  int status() const {
    if (received_.rfind("HTTP/1.1 ", 0) != 0 || received_.size() < 12) return 0;
    return std::stoi(received_.substr(9, 3));
  }
  // The body of the first response (everything after its header block).
  std::string body() const {
    const auto at = received_.find("\r\n\r\n");
    return at == std::string::npos ? "" : received_.substr(at + 4);
  }

 private:
  std::chrono::steady_clock::time_point opened_;
  int fd_ = -1;
  std::string received_;
};

}  // namespace rbees::app::testing
