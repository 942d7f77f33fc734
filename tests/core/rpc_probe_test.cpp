// The start-up check of a remote device (core/rpc): an address nothing listens on, a server that
// never answers and one that speaks another protocol version each fail fast with the address in the
// message, where ggml-rpc itself would abort the process or wait forever.
#include <gtest/gtest.h>

#include <ggml-rpc.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/rpc.hpp"
#include "core/rpc_server_process.hpp"

namespace rbees::core {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A loopback listener that answers ggml-rpc's HELLO with the given version, or (answer false)
// accepts and never answers.
class FakeServer {
 public:
  FakeServer(bool answer, uint8_t major, uint8_t minor) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    ::listen(fd_, 4);
    thread_ = std::thread([this, answer, major, minor] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      uint8_t hello[1 + 8 + 24];
      size_t got = 0;
      while (got < sizeof hello) {
        const ssize_t n = ::recv(c, hello + got, sizeof hello - got, 0);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      if (answer) {
        const uint64_t size = 28;
        uint8_t reply[8 + 28] = {};
        std::memcpy(reply, &size, 8);
        reply[8] = major;
        reply[9] = minor;
        ::send(c, reply, sizeof reply, MSG_NOSIGNAL);
      }
      while (!done_) std::this_thread::sleep_for(milliseconds(5));
      ::close(c);
    });
  }
  ~FakeServer() {
    done_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  RpcEndpoint endpoint() const { return {"127.0.0.1", port_}; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Runs the probe; returns its error message ("" when it passed) and how long it took.
std::pair<std::string, double> probe(const RpcEndpoint& ep, milliseconds timeout) {
  const auto t0 = Clock::now();
  std::string error;
  try {
    probe_rpc_server(ep, timeout);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  return {error, std::chrono::duration<double>(Clock::now() - t0).count()};
}

TEST(RpcEndpoint, ParsesHostPortListsAndRefusesTheRest) {
  const auto eps = parse_rpc_endpoints("10.0.0.2:50052,localhost:1");
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[0].host, "10.0.0.2");
  EXPECT_EQ(eps[0].port, 50052);
  EXPECT_EQ(eps[1].str(), "localhost:1");
  EXPECT_TRUE(parse_rpc_endpoints("").empty());
  for (const char* bad : {"host", "host:", ":80", "host:0", "host:65536", "host:8x", "a:1,,b:2"}) {
    EXPECT_THROW(parse_rpc_endpoints(bad), std::invalid_argument) << bad;
  }
}

TEST(RpcProbe, NothingListeningFailsAtOnceNamingTheAddress) {
  const RpcEndpoint ep{"127.0.0.1", rbees::testing::free_loopback_port()};
  const auto [error, seconds] = probe(ep, milliseconds(5000));
  EXPECT_NE(error.find(ep.str()), std::string::npos) << error;
  EXPECT_NE(error.find("unreachable"), std::string::npos) << error;
  EXPECT_LT(seconds, 1.0);
}

TEST(RpcProbe, AServerThatNeverAnswersFailsAtTheTimeout) {
  FakeServer silent(false, 0, 0);
  const auto [error, seconds] = probe(silent.endpoint(), milliseconds(300));
  EXPECT_NE(error.find(silent.endpoint().str()), std::string::npos) << error;
  EXPECT_NE(error.find("no answer"), std::string::npos) << error;
  EXPECT_GE(seconds, 0.29);
  EXPECT_LT(seconds, 2.0);
}

TEST(RpcProbe, AnotherProtocolVersionIsAClearError) {
  FakeServer newer(true, RPC_PROTO_MAJOR_VERSION + 1, 0);
  const auto [error, seconds] = probe(newer.endpoint(), milliseconds(5000));
  EXPECT_NE(error.find(newer.endpoint().str()), std::string::npos) << error;
  EXPECT_NE(error.find("speaks ggml-rpc protocol " + std::to_string(RPC_PROTO_MAJOR_VERSION + 1) + ".0.0"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find(rpc_protocol_version()), std::string::npos) << error;
  EXPECT_LT(seconds, 1.0);
}

TEST(RpcProbe, TheSameVersionPasses) {
  FakeServer same(true, RPC_PROTO_MAJOR_VERSION, RPC_PROTO_MINOR_VERSION);
  EXPECT_EQ(probe(same.endpoint(), milliseconds(5000)).first, "");
}

TEST(RpcProbe, ARealRpcServerPassesAndServesOneDevice) {
  rbees::testing::RpcServerProcess server;
  ASSERT_TRUE(server.wait_ready());
  const auto devices = rpc_devices(parse_rpc_endpoint(server.endpoint()), milliseconds(5000));
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].id, "rpc:" + server.endpoint());
  EXPECT_TRUE(devices[0].is_remote);
  EXPECT_GT(devices[0].memory_total, 0u);
}

}  // namespace
}  // namespace rbees::core
