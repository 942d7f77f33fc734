#include "app/batching_options.hpp"

namespace rbees::app {

void add_batching_options(CLI::App& cmd, engine::BatchEngineOptions& o) {
  cmd.add_option("--ctx-size", o.ctx_size,
                 "KV-cache tokens shared by all sequences; one sequence may use up to the model's context or this, "
                 "whichever is smaller")
      ->check(CLI::PositiveNumber)
      ->default_val(8192);
  cmd.add_option("--max-seqs", o.max_seqs, "Sequences generating at once (continuous batching)")
      ->check(CLI::Range(1, 1024))
      ->default_val(8);
  cmd.add_option("--max-queue", o.max_queue,
                 "Requests waiting for a sequence slot, beyond --max-seqs running; past both: 503 OVERLOADED")
      ->check(CLI::NonNegativeNumber)
      ->default_val(64);
  cmd.add_option("--prefill-chunk", o.prefill_chunk,
                 "Prompt tokens evaluated per step over all new requests, so long prompts do not stall running ones")
      ->check(CLI::PositiveNumber)
      ->default_val(512);
}

}  // namespace rbees::app
