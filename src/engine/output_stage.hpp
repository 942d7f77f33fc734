#pragma once
// What a step's rows become. Each slice's sequence advances by the tokens the step computed, and the
// KV blocks they filled are published for the prefix cache; a sampling row's token is taken (the
// device's pick, or drawn from its logits row by the sequence's own sampler), checked against the
// stop strings and detokenized (Sequence), and posted to the job's sink as an event (EventOutbox); a
// prompt's log-probabilities are gathered from its rows and sent once the prompt is computed. A sink
// that throws cancels its job. Events carry data only: JSON and SSE are made on the HTTP side.

#include <cstdint>
#include <span>
#include <vector>

#include "core/worker_pool.hpp"

#include "engine/event_outbox.hpp"
#include "engine/job.hpp"
#include "engine/kv_blocks.hpp"
#include "engine/model_runner.hpp"

namespace rbees::engine {

class OutputStage {
 public:
  // sampling_helpers: threads beside the caller's that share take_pending()'s draws.
  OutputStage(KvBlocks& blocks, EventOutbox& outbox, int n_vocab, int sampling_helpers = 0)
      : blocks_(blocks), outbox_(outbox), n_vocab_(static_cast<size_t>(n_vocab)), pool_(sampling_helpers) {}

  // slices[i] belongs to jobs[i]; rows is what ModelRunner::run gave for them.
  void deliver(const StepRows& rows, std::span<const RunSlice> slices, std::span<Job* const> jobs);
  // Overlapped steps: the tokens of the step in flight, taken before the next step is launched with
  // them (Sequence::fill_pending or sample_pending); deliver() then goes on with them. The draws
  // from logits rows, each by its own sequence's sampler, run on the helpers too: the device waits.
  void take_pending(const StepRows& rows, std::span<const RunSlice> slices, std::span<Job* const> jobs);
  int sampling_helpers() const { return pool_.n_helpers(); }

  struct Totals {
    double sample_ms = 0;  // choosing the tokens and the rows' bookkeeping, posting events left out
    uint64_t generated_tokens = 0;
    uint64_t device_picks = 0;         // tokens the model's graph picked (greedy on the device)
    uint64_t masked_device_picks = 0;  // of those, picked under a grammar's mask
  };
  const Totals& totals() const { return totals_; }
  void reset_totals() { totals_ = {}; }

 private:
  // The log-probabilities of the prompt tokens that follow the slice's tokens, from their rows.
  void gather_prompt_logprobs(Job& job, const RunSlice& sl, std::span<const float> logits);

  KvBlocks& blocks_;
  EventOutbox& outbox_;
  size_t n_vocab_;
  Totals totals_;
  core::WorkerPool pool_;
  std::vector<size_t> drawn_;  // take_pending(): the slices whose tokens are drawn
};

}  // namespace rbees::engine
