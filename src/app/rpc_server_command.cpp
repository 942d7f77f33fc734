#include "app/rpc_server_command.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "app/signals.hpp"
#include "core/device.hpp"
#include "core/log.hpp"
#include "core/rpc.hpp"

namespace rbees::app {
namespace {

constexpr const char* kNoAuth =
    "ggml-rpc has no authentication or encryption: whoever reaches the port can run computations on the device and "
    "read or write its memory. Bind a trusted network only";

// Whether host:port can be bound now (ggml's server only prints a line when it cannot).
std::string bind_problem(const std::string& host, int port) {
  in_addr addr{};
  if (::inet_pton(AF_INET, host.c_str(), &addr) != 1) return "'" + host + "' is not an IPv4 address";
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::strerror(errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr = addr;
  std::string problem;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) problem = std::strerror(errno);
  ::close(fd);
  return problem;
}

}  // namespace

CLI::App* add_rpc_server_command(CLI::App& app, RpcServerOptions& opts) {
  auto* cmd = app.add_subcommand(
      "rpc-server", std::string("Serve one local device over ggml's RPC protocol, for workers elsewhere to split a "
                                "model onto with --rpc HOST:PORT. ") +
                        kNoAuth + ".");
  cmd->add_option("--host", opts.host, "IPv4 address to listen on (another than 127.0.0.1 exposes the device)")
      ->default_val("127.0.0.1");
  cmd->add_option("--port", opts.port, "TCP port")->check(CLI::Range(1, 65535))->default_val(50052);
  cmd->add_option("--device", opts.device, "The device to serve: cpu, cuda:N, metal:N, vulkan:N")->default_val("cpu");
  cmd->add_option("--threads", opts.threads, "CPU threads for computation (0: one per core)")
      ->check(CLI::NonNegativeNumber)
      ->default_val(0);
  cmd->add_option("--log-level", opts.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->default_val("info");
  cmd->add_option("--log-format", opts.log_format, "text (for people) or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_val("text");
  return cmd;
}

int run_rpc_server(const RpcServerOptions& opts) {
  log::configure(log::parse_level(opts.log_level), opts.log_format == "json" ? log::Format::json : log::Format::text);
  log::capture_ggml_logs();
  const core::DeviceInfo device = core::find_device(opts.device);
  if (device.is_remote) throw std::invalid_argument("rpc-server serves a local device");
  const int threads = opts.threads > 0 ? opts.threads : core::default_thread_count();
  const core::RpcEndpoint ep{opts.host, opts.port};
  if (const std::string problem = bind_problem(opts.host, opts.port); !problem.empty()) {
    log::error("listen_failed", "cannot listen on " + ep.str() + ": " + problem,
               {{"host", opts.host}, {"port", opts.port}});
    return 1;
  }
  if (opts.host != "127.0.0.1") {
    log::warn("rpc_server_exposed", kNoAuth, {{"host", opts.host}, {"port", opts.port}});
  }
  log::info("rpc_server", std::string("serving ") + device.id + " over ggml-rpc on " + ep.str() + " (" + kNoAuth + ")",
            {{"endpoint", ep.str()},
             {"device", device.id},
             {"device_name", device.description},
             {"threads", threads},
             {"protocol", core::rpc_protocol_version()}});
  // ggml's server loop has no way out: SIGINT/SIGTERM (blocked in every thread, see signals.hpp)
  // end the process from the watcher thread. Nothing is in flight that a client could lose more of
  // than the connection, which it sees close.
  watch_termination_signals([ep = ep.str()](int sig) {
    log::info("rpc_server_stopped", std::string("stopping the ggml-rpc server on ") + ep + " (" + strsignal(sig) + ")",
              {{"endpoint", ep}});
    std::_Exit(0);
  });
  core::serve_rpc(ep, device, threads);
  log::error("listen_failed", "the ggml-rpc server on " + ep.str() + " stopped", {{"endpoint", ep.str()}});
  return 1;
}

}  // namespace rbees::app
