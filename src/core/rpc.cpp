#include "core/rpc.hpp"

#include <fcntl.h>
#include <ggml-rpc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>

#include "core/log.hpp"

namespace rbees::core {
namespace {

using Clock = std::chrono::steady_clock;

// ggml-rpc's handshake as it goes over the wire (ggml-rpc.cpp, protocol 7.x): the command byte of
// HELLO, the request's length as 8 bytes, the request (transport capabilities, zero: plain TCP);
// the answer is its length as 8 bytes, then major, minor, patch, one byte of padding and the
// server's capabilities.
constexpr uint8_t kHelloCommand = 14;
constexpr size_t kCapsSize = 24;
constexpr uint64_t kHelloAnswerSize = 4 + kCapsSize;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

std::string errno_text(int e) {
  return std::strerror(e);
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

Socket connect_with_deadline(const RpcEndpoint& ep, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_INET;  // as ggml-rpc connects
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(ep.host.c_str(), std::to_string(ep.port).c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    throw std::runtime_error("rpc server " + ep.str() + ": cannot resolve host '" + ep.host + "' (" + gai_strerror(rc) +
                             ")");
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
  Socket s(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) throw std::runtime_error("rpc server " + ep.str() + ": socket: " + errno_text(errno));
  if (::connect(s.fd(), found->ai_addr, found->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      throw std::runtime_error("rpc server " + ep.str() + " is unreachable: " + errno_text(errno));
    }
    if (!wait_for(s.fd(), POLLOUT, deadline)) {
      throw std::runtime_error("rpc server " + ep.str() + " is unreachable: no answer to the connection");
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) throw std::runtime_error("rpc server " + ep.str() + " is unreachable: " + errno_text(err));
  }
  return s;
}

// Sends or receives exactly n bytes before the deadline; false when the peer closed, failed or the
// deadline passed (`why` says which).
bool transfer(int fd, void* data, size_t n, bool sending, Clock::time_point deadline, std::string& why) {
  auto* p = static_cast<uint8_t*>(data);
  size_t done = 0;
  while (done < n) {
    if (!wait_for(fd, sending ? POLLOUT : POLLIN, deadline)) {
      why = "no answer within the time allowed (an rpc-server serves one client at a time: another may hold it)";
      return false;
    }
    const ssize_t r = sending ? ::send(fd, p + done, n - done, MSG_NOSIGNAL) : ::recv(fd, p + done, n - done, 0);
    if (r > 0) {
      done += static_cast<size_t>(r);
    } else if (r == 0) {
      why = "the server closed the connection during the handshake";
      return false;
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      why = errno_text(errno);
      return false;
    }
  }
  return true;
}

}  // namespace

RpcEndpoint parse_rpc_endpoint(const std::string& value) {
  const size_t colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size()) {
    throw std::invalid_argument("rpc endpoint '" + value + "' is not HOST:PORT");
  }
  RpcEndpoint ep;
  ep.host = value.substr(0, colon);
  const std::string port = value.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoi(port) < 1 ||
      std::stoi(port) > 65535) {
    throw std::invalid_argument("rpc endpoint '" + value + "' has no valid port (1-65535)");
  }
  ep.port = std::stoi(port);
  return ep;
}

std::vector<RpcEndpoint> parse_rpc_endpoints(const std::string& list) {
  std::vector<RpcEndpoint> out;
  size_t begin = 0;
  while (begin <= list.size() && !list.empty()) {
    const size_t comma = std::min(list.find(',', begin), list.size());
    out.push_back(parse_rpc_endpoint(list.substr(begin, comma - begin)));
    begin = comma + 1;
  }
  return out;
}

std::string rpc_protocol_version() {
  return std::to_string(RPC_PROTO_MAJOR_VERSION) + "." + std::to_string(RPC_PROTO_MINOR_VERSION) + "." +
         std::to_string(RPC_PROTO_PATCH_VERSION);
}

void probe_rpc_server(const RpcEndpoint& ep, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Socket s = connect_with_deadline(ep, deadline);
  std::array<uint8_t, 1 + 8 + kCapsSize> hello{};
  hello[0] = kHelloCommand;
  const uint64_t size = kCapsSize;
  std::memcpy(hello.data() + 1, &size, sizeof size);
  std::string why;
  uint64_t answer_size = 0;
  std::array<uint8_t, kHelloAnswerSize> answer{};
  const std::string ours = rpc_protocol_version();
  if (!transfer(s.fd(), hello.data(), hello.size(), true, deadline, why) ||
      !transfer(s.fd(), &answer_size, sizeof answer_size, false, deadline, why)) {
    throw std::runtime_error("rpc server " + ep.str() + " did not complete ggml-rpc's handshake: " + why +
                             " (this worker speaks protocol " + ours + ")");
  }
  if (answer_size != kHelloAnswerSize) {
    throw std::runtime_error("rpc server " + ep.str() + " answered the handshake with " + std::to_string(answer_size) +
                             " bytes: another ggml-rpc protocol (this worker speaks " + ours + ")");
  }
  if (!transfer(s.fd(), answer.data(), answer.size(), false, deadline, why)) {
    throw std::runtime_error("rpc server " + ep.str() + " did not complete ggml-rpc's handshake: " + why);
  }
  const std::string theirs =
      std::to_string(answer[0]) + "." + std::to_string(answer[1]) + "." + std::to_string(answer[2]);
  // ggml-rpc's own rule: the same major version, and no newer minor one on the server.
  if (answer[0] != RPC_PROTO_MAJOR_VERSION || answer[1] > RPC_PROTO_MINOR_VERSION) {
    throw std::runtime_error("rpc server " + ep.str() + " speaks ggml-rpc protocol " + theirs +
                             ", this worker speaks " + ours + ": run an rpc-server of the same version");
  }
  log::debug("rpc_probe", "rpc server answered the handshake", {{"endpoint", ep.str()}, {"protocol", theirs}});
}

std::vector<std::string> rpc_servers_down(const std::vector<std::string>& endpoints,
                                          std::chrono::milliseconds timeout) {
  std::vector<std::string> down;
  for (const std::string& e : endpoints) {
    try {
      connect_with_deadline(parse_rpc_endpoint(e), Clock::now() + timeout);
    } catch (const std::exception&) {
      down.push_back(e);
    }
  }
  return down;
}

std::vector<DeviceInfo> rpc_devices(const RpcEndpoint& ep, std::chrono::milliseconds timeout) {
  probe_rpc_server(ep, timeout);
  const std::string name = ep.str();
  ggml_backend_reg_t reg = ggml_backend_rpc_add_server(name.c_str());
  if (reg == nullptr) throw std::runtime_error("rpc server " + name + " serves no device");
  std::vector<DeviceInfo> out;
  for (size_t i = 0; i < ggml_backend_reg_dev_count(reg); ++i) {
    DeviceInfo d;
    d.dev = ggml_backend_reg_dev_get(reg, i);
    d.id = "rpc:" + name + (i > 0 ? "/" + std::to_string(i) : "");
    d.ggml_name = ggml_backend_dev_name(d.dev);
    d.description = "ggml-rpc device " + std::to_string(i) + " at " + name;
    d.kind = "rpc";
    d.is_gpu = true;  // as ggml types it: its memory is the remote host's, never this process's
    d.is_remote = true;
    d.endpoint = name;
    ggml_backend_dev_memory(d.dev, &d.memory_free, &d.memory_total);
    out.push_back(d);
  }
  return out;
}

void serve_rpc(const RpcEndpoint& ep, const DeviceInfo& device, int n_threads) {
  const std::string name = ep.str();
  ggml_backend_dev_t dev = device.dev;
  ggml_backend_rpc_start_server(name.c_str(), nullptr, static_cast<size_t>(n_threads), 1, &dev);
}

}  // namespace rbees::core
