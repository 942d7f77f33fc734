#pragma once
// Remote devices through ggml's RPC backend (ggml-rpc): a `rpc-server` elsewhere serves one of its
// devices over TCP and this process adds it to a model's devices. ggml-rpc aborts the process when
// it cannot connect or the versions differ, so each endpoint is checked here first, with a bounded
// wait: reachable, answering ggml-rpc's handshake, and speaking this build's protocol version.

#include <chrono>
#include <string>
#include <vector>

#include "core/device.hpp"

namespace rbees::core {

// "HOST:PORT" split and checked; throws std::invalid_argument naming the value.
struct RpcEndpoint {
  std::string host;
  int port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
};
RpcEndpoint parse_rpc_endpoint(const std::string& value);
// A comma-separated list of endpoints (--rpc); empty for an empty string.
std::vector<RpcEndpoint> parse_rpc_endpoints(const std::string& list);

// The protocol version this build speaks, "major.minor.patch".
std::string rpc_protocol_version();

// Connects to the endpoint and performs ggml-rpc's handshake within `timeout`, then closes the
// connection. Throws std::runtime_error naming the address when it cannot connect, does not answer
// in time (an rpc-server serves one client at a time: another worker may hold it) or speaks another
// protocol version.
void probe_rpc_server(const RpcEndpoint& endpoint, std::chrono::milliseconds timeout);

// Which of `endpoints` refuse a new connection within `timeout` (their server is gone), as
// "HOST:PORT" strings; a server that accepts, even one busy with another client, is not listed.
std::vector<std::string> rpc_servers_down(const std::vector<std::string>& endpoints, std::chrono::milliseconds timeout);

// The devices the server at `endpoint` serves (probed first). Their ids are "rpc:HOST:PORT", with
// "/N" after it for a server's devices after the first.
std::vector<DeviceInfo> rpc_devices(const RpcEndpoint& endpoint, std::chrono::milliseconds timeout);

// Serves `device` over ggml-rpc on host:port until the process ends (ggml's server loop, one client
// at a time). Returns only when the server could not start (the port is taken, the host invalid).
void serve_rpc(const RpcEndpoint& endpoint, const DeviceInfo& device, int n_threads);

}  // namespace rbees::core
