#pragma once
// "rpc-server": serves one local device over ggml's RPC protocol, for workers on other hosts to
// split a model onto (their --rpc). ggml-rpc has no authentication: it binds 127.0.0.1 unless told
// otherwise and says so in its help and log.

#include <CLI/CLI.hpp>

#include <string>

#include "app/common_options.hpp"

namespace rbees::app {

struct RpcServerOptions {
  std::string host = "127.0.0.1";
  int port = 50052;
  std::string device = "cpu";
  int threads = 0;
  std::string log_level = "info";
  std::string log_format = "text";
};

CLI::App* add_rpc_server_command(CLI::App& app, RpcServerOptions& opts);
int run_rpc_server(const RpcServerOptions& opts);

}  // namespace rbees::app
