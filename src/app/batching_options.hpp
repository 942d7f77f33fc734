#pragma once
// The continuous-batching options (--ctx-size, --max-seqs, --max-queue, --prefill-chunk,
// --greedy-on-device, --profile-ops, --step-trace) shared by `serve` and `bench`.

#include <CLI/CLI.hpp>
#include <optional>

#include "engine/batch_engine.hpp"
#include "engine/kv_sizing.hpp"

namespace rbees::app {

// --ctx-size and --max-seqs go to `sizing` (unset: sized for the device once the model is loaded).
// --greedy-on-device auto|on|off into `on` (auto: unset).
void add_greedy_on_device_option(CLI::App& cmd, std::optional<bool>& on);

void add_batching_options(CLI::App& cmd, engine::BatchEngineOptions& opts, engine::KvSizingRequest& sizing);

}  // namespace rbees::app
