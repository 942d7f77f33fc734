#pragma once
// The continuous-batching options (--ctx-size, --max-seqs, --max-queue, --prefill-chunk) shared by
// `serve` and `bench`.

#include <CLI/CLI.hpp>

#include "engine/batch_engine.hpp"

namespace rbees::app {

void add_batching_options(CLI::App& cmd, engine::BatchEngineOptions& opts);

}  // namespace rbees::app
