#pragma once
// What the scheduler needs to know of the KV cache (the Scheduler's view of KvBlocks), so that the
// policy can be tested without a model or a cache.

#include <cstdint>
#include <optional>
#include <span>

namespace rbees::engine {

// What the scheduler needs to know of the KV cache (KvBlocks in the engine).
class KvBudget {
 public:
  virtual ~KvBudget() = default;
  // Takes room for a sequence in `slot` for a prompt and at most `max_total` tokens in all: the
  // number of prompt tokens reused from the prefix cache, or nullopt (nothing changed) when there is
  // not enough room. Without reuse_prefix every prompt token is computed again (a request that
  // wants the logits of its prompt's every position). The sequence's home spans `span` slots from
  // `slot` (home_span_for()); the scheduler keeps the others free while it runs.
  virtual std::optional<int> admit(int32_t slot, std::span<const int32_t> prompt, int max_total, bool reuse_prefix,
                                   int span) = 0;
  // Slots whose parts of the cache a sequence of at most `max_total` tokens wants as its home, so
  // that it never leaves them (1 where homes do not span slots).
  virtual int home_span_for(int max_total) const = 0;
  // Makes room for the sequence in `slot` to hold n_tokens tokens in all; false when there is none.
  virtual bool grow(int32_t slot, int n_tokens) = 0;
  // Frees what the sequence in `slot` holds (it ended, or was preempted).
  virtual void release(int32_t slot) = 0;
  // The slot whose part of the cache holds the prompt's cached prefix, or -1.
  virtual int32_t prefix_home(std::span<const int32_t> prompt) const = 0;
  // Whether the next token of the sequence in `slot` goes to the slot's own part of the cache (the
  // model then batches its attention with the other such tokens).
  virtual bool next_at_home(int32_t slot) const = 0;
};

}  // namespace rbees::engine
