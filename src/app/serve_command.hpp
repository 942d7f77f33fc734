#pragma once

#include "app/common_options.hpp"
#include "engine/batch_engine.hpp"
#include "engine/kv_sizing.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace rbees::app {

struct ServeOptions {
  CommonOptions common;
  std::string model;  // empty: the embedded default model
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (the bound one is logged)
  std::string worker_id;
  std::string api_key;
  std::string api_key_file;
  std::vector<std::string> served_model_names;
  std::vector<std::string> cors_origins;  // empty: no CORS
  std::string callback_url;
  double callback_timeout_s = 30;
  double shutdown_grace_s = 30;
  double device_lost_grace_s = 3;
  bool ignore_eos = false;
  std::string quant;  // empty: the file's types; f32: float matrices kept in F32
  std::string kv_type = "f16";
  engine::BatchEngineOptions batching;
  engine::KvSizingRequest sizing;
  // HTTP limits (server::ServerOptions has their meaning).
  size_t max_body_size = 4 * 1024 * 1024;
  size_t max_header_size = 16 * 1024;
  double header_timeout_s = 5;
  double read_timeout_s = 10;
  size_t min_body_rate = 64 * 1024;
  double write_timeout_s = 10;
  int idle_timeout_s = 5;
  double request_timeout_s = 0;  // 0: none
  size_t max_connections = 8192;
  int http_threads = 0;  // 0: kDefaultHttpThreads
};

// The event loop's threads: they frame and write every stream, so a few are enough.
constexpr int kDefaultHttpThreads = 4;

CLI::App* add_serve_command(CLI::App& app, ServeOptions& opts);

// Exit codes: 0 after a signal-driven shutdown, 1 when the port or the model cannot be opened,
// 2 for bad options, 3 when the ready callback never succeeds.
int run_serve(const ServeOptions& opts);

}  // namespace rbees::app
