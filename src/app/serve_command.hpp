#pragma once

#include "app/common_options.hpp"
#include "engine/batch_engine.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace rbees::app {

struct ServeOptions {
  CommonOptions common;
  std::string model;  // empty: the embedded default model
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string worker_id;
  engine::BatchEngineOptions batching;
};

CLI::App* add_serve_command(CLI::App& app, ServeOptions& opts);
int run_serve(const ServeOptions& opts);

}  // namespace rbees::app
