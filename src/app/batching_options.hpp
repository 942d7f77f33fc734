#pragma once
// The continuous-batching options (--ctx-size, --max-seqs, --max-queue, --prefill-chunk) shared by
// `serve` and `bench`.

#include <CLI/CLI.hpp>

#include "engine/batch_engine.hpp"
#include "engine/kv_sizing.hpp"

namespace rbees::app {

// --ctx-size and --max-seqs go to `sizing` (unset: sized for the device once the model is loaded).
void add_batching_options(CLI::App& cmd, engine::BatchEngineOptions& opts, engine::KvSizingRequest& sizing);

}  // namespace rbees::app
