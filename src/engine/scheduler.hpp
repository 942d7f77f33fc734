#pragma once
// The step policy of continuous batching, apart from the model, the KV storage and the threads:
// which waiting request is admitted to which sequence slot, and which tokens of which running
// sequences make the next step's batch. BatchEngine carries a plan out (the model pass, sampling,
// events); tests/engine/scheduler_test.cpp checks the policy with no model loaded.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/kv_budget.hpp"
#include "engine/sequence.hpp"

namespace rbees::engine {

// One sequence's share of a step's batch: its next n_tokens tokens from n_computed().
struct StepSlice {
  size_t index;  // into the running sequences given to plan()
  int n_tokens;
  bool sample;  // the step computes its last prompt token or its decode token: sample after it
};

class Scheduler {
 public:
  // max_seqs slots (ids 0 .. max_seqs-1); at most prefill_chunk prompt tokens per step. step_tokens
  // (0: no cap) is what one forward graph of the model holds: a step's prompt tokens are cut so the
  // step fits it, since a step one token over runs a second graph that reads every weight again
  // for that token. Prompts keep at least a quarter of it, so decodes cannot starve them.
  Scheduler(int max_seqs, int prefill_chunk, int step_tokens = 0, bool reserve_runs = false);

  // One admission pass asks admit() for the waiting requests in order, oldest first, after
  // begin_admission(). admit() admits `seq` if a slot and KV room are free: into the free slot
  // holding its cached prefix, else the lowest free slot, which keeps the slots in use packed at the
  // start of the cache. Returns the slot, or nullopt when it must wait. The pass stops at the first
  // request that waits (first come, first served: nobody overtakes it), unless waits_for_run() (only
  // with reserve_runs; without, a request waiting for a run holds up the queue).
  // A sequence of up to max_total tokens whose home spans several slots (KvBudget::home_span_for)
  // takes as many free consecutive slots from a multiple of that number (the model batches homes of
  // one size as equally spaced streams), the lowest such run, and waits while there is none: the
  // slots that end meanwhile stay free until there is. With reserve_runs, the first such request of
  // the pass instead reserves the run with the most free slots: its free slots stay free until the
  // run is whole, while the requests behind it may take the other free slots (waits_for_run()).
  // Where homes may span slots, a one-slot sequence takes the lowest free slot between busy ones, if
  // any, so that free runs stay whole.
  void begin_admission();
  std::optional<int32_t> admit(Sequence& seq, int max_total, KvBudget& kv);
  // Whether the last admit() waits only for a run of free slots, which requests behind it may not
  // take (they may take the others).
  bool waits_for_run() const { return waits_for_run_; }
  // The first slot of the run reserved in this pass, or -1.
  int32_t reserved() const { return reserved_; }
  // The slot of a sequence that ended (and the slots its home spans) are free again.
  void release(int32_t slot);
  int free_slots() const { return n_free_; }

  // The next step over the running sequences (admission order): a token of every decoding
  // sequence, those whose token stays at home first and in slot order (the model's batched
  // attention over the slots' regions takes them as they come), then prompt chunks, oldest first,
  // within the prefill budget. A decoding sequence that needs a new KV block and finds none
  // preempts the most recently admitted running sequence (itself, if it is that one): the victim's
  // KV space and slot are freed, it is back to waiting (Sequence::preempt) and listed in
  // `preempted`, oldest first, for the caller to queue again ahead of new requests.
  struct Plan {
    std::vector<StepSlice> slices;
    std::vector<size_t> preempted;  // indices into `running`
  };
  Plan plan(std::span<Sequence* const> running, KvBudget& kv);

 private:
  int max_seqs_;
  int prefill_chunk_;
  int step_tokens_;
  bool reserve_runs_;
  // Whether the `span` slots from `slot` exist and are all free, slot a multiple of span, and none
  // of them is reserved for a request other than `who`.
  bool run_free(int32_t slot, int span, const Sequence* who) const;
  // Reserves for `who` the run of `span` slots with the most free ones (the last pass's run on a
  // tie, else the lowest).
  void reserve(int span, const Sequence* who);

  std::vector<int> span_;  // per slot: the slots its sequence holds from it, 0 while free; -1: covered
  int n_free_ = 0;
  int32_t reserved_ = -1;  // this pass's reserved run: its first slot
  int reserved_span_ = 0;
  const Sequence* reserved_for_ = nullptr;
  int32_t last_reserved_ = -1;  // the last pass's
  bool waits_for_run_ = false;
};

}  // namespace rbees::engine
