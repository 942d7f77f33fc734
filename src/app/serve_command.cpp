#include "app/serve_command.hpp"

#include "app/batching_options.hpp"
#include "app/default_model.hpp"
#include "app/signals.hpp"
#include "core/device.hpp"
#include "core/log.hpp"

#include <condition_variable>
#include <mutex>
#include <unistd.h>

namespace rbees::app {

CLI::App* add_serve_command(CLI::App& app, ServeOptions& opts) {
  auto* cmd = app.add_subcommand("serve", "Run the worker daemon (the default subcommand)");
  cmd->add_option("--model,-m", opts.model, "Model: a Hugging Face directory or a GGUF file (default: the embedded model)");
  cmd->add_option("--host", opts.host, "Address to listen on (binding beyond loopback must be asked for)")
      ->default_val("127.0.0.1");
  cmd->add_option("--port", opts.port, "Port to listen on")->check(CLI::Range(1, 65535))->default_val(8080);
  cmd->add_option("--worker-id", opts.worker_id, "Identifier reported to the pool manager and in logs (default: host name)");
  add_batching_options(*cmd, opts.batching);
  add_common_options(*cmd, opts.common);
  return cmd;
}

int run_serve(const ServeOptions& opts) {
  apply_logging(opts.common);
  std::string worker_id = opts.worker_id;
  if (worker_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    worker_id = host;
  }
  log::set_global_field("worker_id", worker_id);

  std::string model = opts.model.empty() ? default_model_path().string() : opts.model;
  core::DeviceInfo dev = core::find_device(opts.common.device);
  log::info("startup", "rbees-workerd starting",
            {{"model", model}, {"device", dev.id}, {"device_name", dev.description},
             {"memory_total", dev.memory_total}, {"memory_free", dev.memory_free},
             {"host", opts.host}, {"port", opts.port}});

  std::mutex mu;
  std::condition_variable cv;
  int received = 0;
  watch_termination_signals([&](int sig) {
    std::lock_guard lk(mu);
    received = sig;
    cv.notify_all();
  });
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return received != 0; });
  log::info("shutdown", "signal received, exiting", {{"signal", received}});
  return 0;
}

}  // namespace rbees::app
