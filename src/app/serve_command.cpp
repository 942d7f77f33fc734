#include "app/serve_command.hpp"

#include "app/batching_options.hpp"
#include "app/ignore_eos_engine.hpp"
#include "app/signals.hpp"
#include "core/device_fault.hpp"
#include "core/log.hpp"
#include "engine/model_runtime.hpp"
#include "loader/quantize.hpp"
#include "server/auth.hpp"
#include "server/cors.hpp"
#include "server/http_server.hpp"
#include "server/memory_release.hpp"
#include "server/ready_callback.hpp"

#include <sys/resource.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

namespace rbees::app {

namespace {

// What the signal watcher thread tells the main thread.
struct Termination {
  std::mutex mu;
  std::condition_variable cv;
  int signals = 0;
  int last_signal = 0;
  bool loading = true;  // a signal while loading exits at once: nothing runs yet

  void on_signal(int sig) {
    std::lock_guard lk(mu);
    ++signals;
    last_signal = sig;
    if (loading) {
      log::info("shutdown", "signal received while loading; exiting", {{"signal", sig}});
      std::_Exit(0);
    }
    cv.notify_all();
  }
  // Waits for the first signal (or, with a deadline, until it passes); true when one came.
  bool wait(int at_least,
            std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max()) {
    std::unique_lock lk(mu);
    return cv.wait_until(lk, deadline, [&] { return signals >= at_least; });
  }
};

std::string default_worker_id() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

std::optional<std::string> api_key_of(const ServeOptions& o) {
  if (!o.api_key.empty() && !o.api_key_file.empty()) {
    throw std::invalid_argument("--api-key and --api-key-file exclude each other");
  }
  if (!o.api_key.empty()) return o.api_key;
  if (!o.api_key_file.empty()) return server::read_api_key_file(o.api_key_file);
  return std::nullopt;
}

// Each connection is a file descriptor: the soft limit (often 1024) is raised to the hard one, and
// a cap beyond what is left is logged.
void raise_open_file_limit(size_t max_connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  // Model files, logs and the engine's own descriptors need some beyond the connections.
  constexpr rlim_t kOtherFiles = 64;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < max_connections + kOtherFiles) {
    log::warn(
        "file_limit", "the open-file limit is below --max-connections; new connections wait past it",
        {{"limit", static_cast<int64_t>(lim.rlim_cur)}, {"max_connections", static_cast<int64_t>(max_connections)}});
  }
}

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0));
}

void add_http_limit_options(CLI::App& cmd, ServeOptions& opts) {
  cmd.add_option("--max-body-size", opts.max_body_size, "Largest request body in bytes; larger: 413")
      ->check(CLI::PositiveNumber)
      ->default_val(opts.max_body_size);
  cmd.add_option("--max-header-size", opts.max_header_size,
                 "Largest total of a request's header lines in bytes; larger: 431 (one line is capped at 8192 "
                 "bytes: 400)")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 20))
      ->default_val(opts.max_header_size);
  cmd.add_option("--header-timeout", opts.header_timeout_s,
                 "Seconds from a request's first byte to the end of its headers before the connection is dropped")
      ->check(CLI::Range(0.001, 3600.0))
      ->default_val(opts.header_timeout_s);
  cmd.add_option("--read-timeout", opts.read_timeout_s,
                 "Seconds a request body being received may go without sending a byte before the connection is "
                 "dropped")
      ->check(CLI::Range(0.001, 3600.0))
      ->default_val(opts.read_timeout_s);
  cmd.add_option("--min-body-rate", opts.min_body_rate,
                 "Bytes a second a request body must average: its deadline is --header-timeout plus its length at "
                 "this rate")
      ->check(CLI::PositiveNumber)
      ->default_val(opts.min_body_rate);
  cmd.add_option("--write-timeout", opts.write_timeout_s,
                 "Seconds a response write may stay blocked (a client not reading) before the connection is dropped "
                 "and its job cancelled")
      ->check(CLI::Range(0.001, 3600.0))
      ->default_val(opts.write_timeout_s);
  cmd.add_option("--idle-timeout", opts.idle_timeout_s,
                 "Seconds an open connection may wait for its first or next (keep-alive) request")
      ->check(CLI::Range(1, 3600))
      ->default_val(opts.idle_timeout_s);
  cmd.add_option("--request-timeout", opts.request_timeout_s,
                 "Seconds a generation request may take from arrival to its last event, queueing included; past "
                 "it the job is cancelled and ends with TIMEOUT (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->default_val(opts.request_timeout_s);
  cmd.add_option("--max-connections", opts.max_connections,
                 "Open connections at most; at the cap the oldest one without a request in progress is closed for a "
                 "new one")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->default_val(opts.max_connections);
  cmd.add_option("--http-threads", opts.http_threads,
                 "Threads of the HTTP event loop, which serve every connection and stream (0: " +
                     std::to_string(kDefaultHttpThreads) + ")")
      ->check(CLI::Range(0, 256))
      ->default_val(opts.http_threads);
}

}  // namespace

CLI::App* add_serve_command(CLI::App& app, ServeOptions& opts) {
  auto* cmd = app.add_subcommand("serve", "Run the worker daemon (the default subcommand)");
  cmd->add_option("--model,-m", opts.model,
                  "Model: a Hugging Face directory or a GGUF file (default: the embedded model)");
  cmd->add_option("--host", opts.host, "Address to listen on (binding beyond loopback must be asked for)")
      ->default_val("127.0.0.1");
  cmd->add_option("--port", opts.port, "Port to listen on (0: any free port; the bound one is logged)")
      ->check(CLI::Range(0, 65535))
      ->default_val(8080);
  cmd->add_option("--worker-id", opts.worker_id,
                  "Identifier reported to the pool manager and in logs (default: host name)");
  cmd->add_option("--api-key", opts.api_key,
                  "Require `Authorization: Bearer KEY` on every endpoint but /health and the chat page");
  cmd->add_option("--api-key-file", opts.api_key_file, "Read the API key from this file (trailing newline ignored)");
  cmd->add_option("--served-model-name", opts.served_model_names,
                  "A name the OpenAI API answers to besides the model's own (repeatable, or a comma list); the first "
                  "names the model in responses")
      ->delimiter(',')
      ->check(
          [](const std::string& name) { return name.empty() ? std::string("a model name must not be empty") : ""; });
  cmd->add_option("--cors-origin", opts.cors_origins,
                  "Let browser pages of these origins call the API (scheme://host[:port], comma-separated or "
                  "repeated; `*`: any origin). Off by default: no CORS headers")
      ->delimiter(',')
      ->check(CLI::Validator(
          [](std::string& origin) { return server::invalid_cors_origin(origin).value_or(std::string()); }, "ORIGIN"));
  cmd->add_option("--callback-url", opts.callback_url,
                  "Once ready, POST {worker_id, uri, model_ref, vram_bytes, device, context_length} here");
  cmd->add_option("--callback-timeout", opts.callback_timeout_s,
                  "Seconds to keep retrying the ready callback before exiting with code 3")
      ->check(CLI::PositiveNumber)
      ->default_val(30);
  cmd->add_option("--device-lost-grace", opts.device_lost_grace_s,
                  "Seconds between losing a remote device (requests failed, /health unhealthy) and exiting with code 4")
      ->check(CLI::NonNegativeNumber)
      ->default_val(3);
  cmd->add_option("--shutdown-grace", opts.shutdown_grace_s,
                  "On SIGTERM/SIGINT, seconds running jobs may take to finish before they are cancelled")
      ->check(CLI::NonNegativeNumber)
      ->default_val(30);
  cmd->add_flag("--ignore-eos", opts.ignore_eos, "Generate past end-of-sequence tokens in every request (benchmarks)");
  cmd->add_option("--quant", opts.quant,
                  "Weight matrices in memory: q8_0, q4_0, q4_k or f16 (quantized on load), or f32 (full precision, "
                  "no rounding of bf16/f16 weights or activations)")
      ->check(CLI::IsMember({"q8_0", "q4_0", "q4_k", "f16", "f32"}, CLI::ignore_case));
  cmd->add_option("--kv-type", opts.kv_type, "KV-cache element type: f16 or f32")
      ->check(CLI::IsMember({"f16", "f32"}, CLI::ignore_case))
      ->default_val("f16");
  add_batching_options(*cmd, opts.batching, opts.sizing);
  add_http_limit_options(*cmd, opts);
  add_common_options(*cmd, opts.common);
  add_split_options(*cmd, opts.common);
  return cmd;
}

int run_serve(const ServeOptions& opts) {
  apply_logging(opts.common);
  const std::string worker_id = opts.worker_id.empty() ? default_worker_id() : opts.worker_id;
  log::set_global_field("worker_id", worker_id);

  engine::RuntimeOptions ro = runtime_options(opts.model, opts.common);
  if (CLI::detail::to_lower(opts.quant) == "f32") {
    ro.float_matrix_type = GGML_TYPE_F32;
  } else if (!opts.quant.empty()) {
    ro.quant = loader::parse_quant(opts.quant);
  }
  engine::BatchEngineOptions batching = opts.batching;
  if (batching.profile_ops) {
    // Each profiled op runs as a graph of its own, which ggml-cuda keys (for its CUDA graphs) by the
    // op's address, and graph rebuilds reuse addresses for other ops: the key meeting another op's
    // CUDA graph is the fault GraphIdentity prevents for whole graphs. A profiled 256-client run
    // faulted on an H200 where the same run unprofiled did not
    // (bench/results/2026-12-04-nvidia-h200-8853796). Every op is waited for anyway: CUDA graphs
    // gain nothing here.
    setenv("GGML_CUDA_DISABLE_GRAPHS", "1", 1);
  }
  batching.kv_type = CLI::detail::to_lower(opts.kv_type) == "f32" ? GGML_TYPE_F32 : GGML_TYPE_F16;

  server::ServerOptions so;
  so.worker_id = worker_id;
  so.api_key = api_key_of(opts);
  so.served_model_names = opts.served_model_names;
  so.cors_origins = opts.cors_origins;
  server::CorsPolicy{so.cors_origins};  // refuses `*` within a list before anything starts
  so.max_body_bytes = opts.max_body_size;
  so.max_header_bytes = opts.max_header_size;
  so.header_timeout = seconds_to_ms(opts.header_timeout_s);
  so.read_timeout = seconds_to_ms(opts.read_timeout_s);
  so.min_body_rate = opts.min_body_rate;
  so.max_connections = opts.max_connections;
  so.write_timeout = seconds_to_ms(opts.write_timeout_s);
  so.idle_timeout_s = opts.idle_timeout_s;
  so.request_timeout = seconds_to_ms(opts.request_timeout_s);
  so.http_threads = opts.http_threads > 0 ? opts.http_threads : kDefaultHttpThreads;
  raise_open_file_limit(so.max_connections);
  server::configure_allocator();

  Termination term;
  watch_termination_signals([&term](int sig) { term.on_signal(sig); });

  // The port opens first: /health answers 503 "loading" while the model loads.
  auto srv = std::make_unique<server::HttpServer>(so, std::make_shared<server::WorkerMetrics>());
  const int port = srv->bind(opts.host, opts.port);
  if (port <= 0) {
    log::error("listen_failed", "cannot listen on " + opts.host + ":" + std::to_string(opts.port),
               {{"host", opts.host}, {"port", opts.port}});
    return 1;
  }
  const std::string uri = "http://" + opts.host + ":" + std::to_string(port);
  std::atomic<bool> listen_returned{false};
  std::thread listener([&srv, &listen_returned] {
    srv->listen();
    listen_returned = true;
  });
  // Repeated until the loop has ended: a stop() may come before listen() has begun.
  auto stop_listening = [&] {
    while (listener.joinable() && !listen_returned) {
      srv->stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (listener.joinable()) listener.join();
  };
  std::string cors_origins;
  for (const auto& o : so.cors_origins) cors_origins += (cors_origins.empty() ? "" : ",") + o;
  log::info("listening", "listening on " + uri + " (loading the model)",
            {{"host", opts.host},
             {"port", port},
             {"api_key", so.api_key.has_value()},
             {"cors_origins", cors_origins},
             {"http_threads", so.http_threads},
             {"request_timeout_s", opts.request_timeout_s}});

  std::unique_ptr<engine::ModelRuntime> runtime;
  try {
    runtime = engine::ModelRuntime::load(ro);
  } catch (const std::exception& e) {
    log::error("model_load_failed", "cannot load model " + ro.model_path + ": " + e.what(), {{"model", ro.model_path}});
    stop_listening();
    return 1;
  }
  log::info("startup", "model ready on its device",
            {{"model", ro.model_path},
             {"device", runtime->device().info().id},
             {"device_name", runtime->device().info().description}});

  engine::KvSizing sizing;
  try {
    sizing =
        engine::size_kv_cache(*runtime, opts.sizing, batching.kv_type, batching.block_size, batching.home_span_tokens);
  } catch (const std::exception& e) {
    log::error("kv_cache_sizing_failed", e.what(), {{"device", runtime->device().info().id}});
    stop_listening();
    return 1;
  }
  batching.ctx_size = sizing.ctx_size;
  batching.max_seqs = sizing.max_seqs;
  log::info("kv_cache_sized",
            "KV cache of " + std::to_string(sizing.ctx_size) + " tokens for " + std::to_string(sizing.max_seqs) +
                " sequences (" + sizing.basis + ")",
            {{"ctx_size", sizing.ctx_size},
             {"max_seqs", sizing.max_seqs},
             {"basis", sizing.basis},
             {"bytes_per_token", static_cast<unsigned long long>(sizing.bytes_per_token)},
             {"kv_cache_bytes", static_cast<unsigned long long>(sizing.bytes_per_token * sizing.ctx_size)},
             {"device_free_bytes", static_cast<unsigned long long>(sizing.device_free_bytes)}});
  if (sizing.short_regions()) {
    log::warn("kv_regions_short",
              "each sequence slot's KV region holds " + std::to_string(sizing.region_tokens) + " tokens, and a home " +
                  std::to_string(sizing.max_span) +
                  " of them, fewer than a sequence may reach: a longer one attends over its cells gathered "
                  "(copied) each step, not in place; a larger --ctx-size, fewer --max-seqs or a larger "
                  "--home-span-tokens keeps sequences in their homes",
              {{"region_tokens", sizing.region_tokens},
               {"max_home_span", sizing.max_span},
               {"context_length", sizing.sequence_tokens}});
  }
  std::shared_ptr<engine::BatchEngine> batch_engine;
  try {
    batch_engine = std::make_shared<engine::BatchEngine>(*runtime, batching);
  } catch (const std::exception& e) {
    log::error("engine_start_failed", e.what(), {{"device", runtime->device().info().id}});
    stop_listening();
    return 1;
  }
  std::shared_ptr<engine::Engine> served = batch_engine;
  if (opts.ignore_eos) served = std::make_shared<IgnoreEosEngine>(batch_engine);
  srv->set_engine(served);
  {
    std::lock_guard lk(term.mu);
    term.loading = false;
  }
  const auto health = served->health();
  log::info("ready", "serving on " + uri,
            {{"uri", uri},
             {"device", health.device},
             {"context_length", health.context_length},
             {"max_seqs", batching.max_seqs},
             {"max_queue", opts.batching.max_queue}});

  if (runtime->has_remote_devices()) {
    // A lost remote device leaves the engine's thread waiting for good (core/device_fault): fail
    // every request now, say why on /health for the grace period, then exit for a restart.
    core::set_device_fault_handler(
        [server = srv.get(), batch_engine, grace = opts.device_lost_grace_s](const std::string& reason) {
          const std::string why = "the worker lost a device its model needs: " + reason;
          server->mark_unhealthy(why);
          batch_engine->abandon(
              engine::Failure{engine::FailureKind::inference_failed, why + "; retry the request", true}, why);
          log::error("device_lost", "requests failed; exiting for a restart",
                     {{"exit_code", core::kExitDeviceLost}, {"grace_s", grace}});
          std::this_thread::sleep_for(seconds_to_ms(grace));
          std::_Exit(core::kExitDeviceLost);
        });
  }

  auto shut_down = [&] {
    core::set_device_fault_handler({});
    batch_engine->shutdown();
    stop_listening();
    srv.reset();
  };

  if (!opts.callback_url.empty()) {
    server::ReadyInfo info{worker_id,         uri,           opts.model.empty() ? ro.model_path : opts.model,
                           health.vram_bytes, health.device, health.context_length};
    server::CallbackOptions co;
    co.timeout = seconds_to_ms(opts.callback_timeout_s);
    // The callback runs beside the signal wait, so that a SIGTERM while the orchestrator is
    // unreachable stops the worker at once; the thread holds only its own copies.
    auto done = std::make_shared<std::promise<server::CallbackResult>>();
    auto result = done->get_future();
    std::thread([done, url = opts.callback_url, info, co] {
      done->set_value(server::post_ready_callback(url, info, co));
    }).detach();
    while (result.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      if (term.wait(1, std::chrono::steady_clock::now())) break;
    }
    if (result.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      const auto r = result.get();
      if (!r.ok) {
        log::error("ready_callback_failed",
                   "the ready callback to " + opts.callback_url + " did not succeed within " +
                       std::to_string(opts.callback_timeout_s) + " s; exiting",
                   {{"url", opts.callback_url}, {"attempts", r.attempts}, {"last_error", r.last_error}});
        shut_down();
        return 3;
      }
    }
  }

  term.wait(1);
  log::info("shutdown", "signal received; draining",
            {{"signal", term.last_signal}, {"grace_s", opts.shutdown_grace_s}});
  batch_engine->stop_admitting();
  srv->begin_drain();

  // Running jobs get the grace period; a second signal cuts it short.
  auto idle = std::async(std::launch::async, [&] { batch_engine->wait_idle(); });
  const auto deadline = std::chrono::steady_clock::now() + seconds_to_ms(opts.shutdown_grace_s);
  while (idle.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    if (std::chrono::steady_clock::now() >= deadline || term.wait(2, std::chrono::steady_clock::now())) {
      log::info("shutdown", "cancelling the jobs still running",
                {{"running", batch_engine->stats().running_sequences}});
      break;
    }
  }
  // Cancelled jobs' streams end with CANCELLED; stopping the listener lets open responses finish.
  batch_engine->shutdown();
  idle.wait();
  stop_listening();
  srv.reset();
  log::info("shutdown", "stopped");
  return 0;
}

}  // namespace rbees::app
