#pragma once
// Continuous batching: one scheduler thread runs the model for every active request at once. Each
// step builds ONE batch: a decode token for every decoding sequence, then prefill chunks of the
// admitted ones (at most `prefill_chunk` prompt tokens per step, so a long prompt never stalls the
// decodes), evaluates it, samples each sequence's next token with its own sampler and retires
// finished sequences at once, freeing their KV blocks for the queue. Admission is first come, first
// served: the oldest waiting request is admitted as soon as a sequence slot and KV blocks for its
// prompt are free (beyond a watermark kept for the running sequences' growth), and no later request
// overtakes it. A sequence takes a block whenever it fills its last; when none is left, the most
// recently admitted sequence is preempted and queued again at the head, to recompute its tokens
// (mostly from the prefix cache) when there is room (Scheduler::plan).
//
// Capacity: max_seqs running plus max_queue waiting. A request is refused as OVERLOADED only when
// that many are already queued or running, so a burst that arrives while a step runs fills the free
// sequence slots as well as the queue. The scheduler admits at step boundaries only: until then an
// accepted request counts as queued (queue_length) even where a slot is free for it. A request kept
// waiting for KV blocks while a slot is free holds that slot's place, so the queue may then hold
// more than max_queue, but the engine never holds more than max_seqs + max_queue requests.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/engine.hpp"
#include "engine/grammar_constraints.hpp"
#include "engine/guarded_sink.hpp"
#include "engine/job.hpp"
#include "engine/kv_blocks.hpp"
#include "engine/model_runner.hpp"
#include "engine/model_runtime.hpp"
#include "engine/output_stage.hpp"
#include "engine/request.hpp"
#include "engine/scheduler.hpp"
#include "engine/sequence.hpp"
#include "engine/step_trace.hpp"
#include "model/batch.hpp"
#include "model/kv_cache.hpp"

namespace rbees::engine {

struct BatchEngineOptions {
  int ctx_size = 8192;  // KV cells shared by all sequences
  int max_seqs = 8;     // sequences decoding at once
  int max_queue = 64;   // requests waiting beyond the free sequence slots; beyond: OVERLOADED
  // Prompt tokens evaluated per step, over all prefilling sequences; 0: what one forward graph of
  // the model holds (model::ModelOptions::max_graph_tokens). A step is also cut to fit one graph.
  int prefill_chunk = 512;
  int block_size = 16;  // KV cells per block (paging and prefix-cache granularity)
  // Tokens a sequence's home may hold by spanning consecutive slots' regions (KvCache::set_home_span),
  // up to the model's context: a sequence that may grow past one region takes the slots it needs
  // and attends in place. 0: a home is one region.
  int home_span_tokens = 2048;
  // While a request waits for a run of free slots for its home, it reserves one and the requests
  // behind it take the other free slots (Scheduler); false: the queue waits behind it. Off by
  // default: on the CPU replica of 256 clients it lost 3% of throughput.
  bool reserve_span_runs = false;
  ggml_type kv_type = GGML_TYPE_F16;
  // Whether a step whose every sampler is plain greedy lets the model's graph pick the tokens
  // (LlamaModel::forward_greedy) instead of copying the logits rows to the host. Unset: on a GPU,
  // where the copy and the host's scan of n_vocab floats per sequence cost more than the pick.
  std::optional<bool> greedy_on_device;
  // Time every step op by op (model::OpProfile) and log the totals at shutdown.
  bool profile_ops = false;
  // Whether constrained sequences' grammar masks are computed while the device computes the step
  // (LlamaModel::forward_view's while_computing) rather than when their tokens are sampled; the
  // tokens are the same either way. Off only as a measurement's baseline.
  bool masks_while_computing = true;
  // Whether a step is launched before the step ahead of it has been turned into tokens and events:
  // the next step is planned, built and given its inputs while the device computes this one, and
  // this one's output stage runs while the device computes the next (a token known only from the
  // step in flight reaches the next step's input once it is picked on the device or drawn from its
  // logits row). Unset: where the model's inputs live on its device (one GPU), whose idle time
  // between steps it removes; a CPU computes a step on the engine's thread, so there it only
  // reorders work.
  std::optional<bool> overlap_steps;
  // Threads beside the engine's that draw the tokens of a step in flight from its logits rows, the
  // device idle meanwhile (overlapped steps). Unset: core::WorkerPool::helpers_for the host's cores.
  std::optional<int> sampling_helpers;
  // Appends a line per step to this file (StepTrace): the step's contents and times. Empty: none.
  std::string step_trace;
  // Whether events reach the sinks from a thread of their own (EventOutbox), overlapping the next
  // step, rather than from the engine's thread during the step.
  bool events_thread = true;
  // Before the engine takes requests, two prompts of as many tokens together as a step computes and
  // two decode steps run through the whole path, so that the one-time costs of a device's first passes (on a
  // GPU: the cuBLAS handle, kernels loaded at their first launch, the memory pools' growth) are paid
  // at start, not by the first requests. Nothing of it stays: its cells are freed, its blocks leave
  // the prefix cache and the counters start after it.
  bool warm_up = false;
  // Then prompts of these lengths, each alone with its decode steps: a GPU loads a kernel at its
  // first launch, and the products and attention of a short step launch other kernels than a full
  // one's (a worker's first lone short prompt took 50 ms on an H200, about 10 at its prompt rate).
  // Unset: 100, 300 and 700 tokens on a GPU, none on a CPU, whose kernels are all loaded with the
  // program.
  std::optional<std::vector<int>> warm_up_alone;
};

struct BatchEngineStats {
  int queue_length = 0;
  int running_sequences = 0;
  double kv_cache_usage = 0;  // blocks in use or reserved, over all blocks
  uint64_t prefix_cache_hit_tokens = 0;
  uint64_t prefix_cache_copied_tokens = 0;  // of the hits, copied home from another slot's region
  uint64_t preemptions = 0;                 // sequences sent back to the queue for KV space
  uint64_t prompt_tokens = 0;
  uint64_t generated_tokens = 0;
  uint64_t steps = 0;
  uint64_t steps_ahead = 0;          // of them, prepared and launched while the one before computed
  double mask_ms = 0;                // engine thread time computing grammar masks ahead (BatchEngine::Totals)
  double sample_ms = 0;              // engine thread time choosing tokens from logits rows
  uint64_t device_picks = 0;         // tokens the model's graph picked (greedy on the device)
  uint64_t masked_device_picks = 0;  // of those, picked under a grammar's mask
};

// The warm-up's k-th prompt of n tokens: ids spread over the vocabulary, so that the embedding
// lookup reads many rows as a real prompt does.
std::vector<int32_t> warm_up_prompt(int n, int64_t n_vocab, int k);

class BatchEngine : public Engine {
 public:
  BatchEngine(ModelRuntime& runtime, const BatchEngineOptions& options);
  ~BatchEngine() override;  // cancels what is still running
  BatchEngine(const BatchEngine&) = delete;
  BatchEngine& operator=(const BatchEngine&) = delete;

  // Tokenizes and queues a request; the sink hears from the scheduler thread. Refused (nothing queued,
  // no call to the sink) when the slots and the queue are full, the engine is stopping, or the
  // request cannot fit: its prompt plus max_tokens exceeds the per-sequence limit (the message names
  // the numbers).
  SubmitResult submit(Request request, std::shared_ptr<Sink> sink) override;
  // Ends a job within one step with FinishReason::cancelled. False when no such job is queued or
  // running (finished or unknown: cancel is idempotent).
  bool cancel(const std::string& job_id) override;
  HealthInfo health() const override;
  EngineStats stats() const override;
  std::vector<int32_t> tokenize(std::string_view text, bool add_special) const override;
  std::string detokenize(std::span<const int32_t> ids) const override;
  std::string token_text(int32_t id) const override;
  chat::ToolCallFormat tool_call_format() const override;
  // Stops admitting (submit answers shutting_down); running and queued jobs go on.
  void stop_admitting();
  // Cancels every job and stops the scheduler.
  void shutdown();
  // For a fault the engine's thread cannot return from (a remote device lost while a pass waits on
  // it): from any thread, ends every queued and running job at once with `failure` and refuses new
  // ones with `reason`. The engine's thread is not waited for; what it sends later is dropped.
  void abandon(const Failure& failure, const std::string& reason);

  // Tokens one sequence may hold: the model's context, or the KV space if smaller.
  int sequence_limit() const { return limit_; }
  const BatchEngineOptions& options() const { return opts_; }
  BatchEngineStats detailed_stats() const;
  // The op-by-op times of every step (BatchEngineOptions::profile_ops); read it after shutdown().
  const model::OpProfile& op_profile() const { return op_profile_; }
  // Waits until no job is queued or running (for tests and draining).
  void wait_idle();
  ModelRuntime& runtime() { return rt_; }

 private:
  void run();
  // Under mu_: whether one more request fits in the free sequence slots or the queue.
  bool has_room() const;
  std::string overloaded_message() const;
  bool take_incoming(std::unique_lock<std::mutex>& lk);
  void apply_cancels();
  void admit();
  bool awaits_shared_prefix(const Sequence& seq) const;
  // The step's plan as run slices (with their jobs); false when there is nothing to run.
  bool plan_step();
  // Runs the step and turns its rows into tokens and events: the output stage.
  void evaluate();
  void count_step();  // the step just launched, in the totals
  // Overlapped steps: the step in flight is waited for, its picks filled in as its sequences'
  // pending tokens, and (deliver_in_flight) turned into tokens and events.
  StepRows wait_in_flight();
  void deliver_in_flight(const StepRows& rows);
  void finish_in_flight();
  // Moves the sequences of a launched step past it (RunSlice::advanced); it is then in flight.
  void advance(std::vector<RunSlice>& slices, std::vector<Job*>& jobs);
  // Moves finished and cancelled jobs out of running_ (finish()), into retired_.
  void retire();
  void finish(Job& job, FinishReason reason);
  void fail_all(const std::string& message);
  void publish_stats();
  void log_totals() const;
  void requeue(const std::vector<size_t>& preempted);
  void warm_up();
  int run_warm_up(const std::vector<int>& lengths, int first_k);

  ModelRuntime& rt_;
  GrammarConstraints grammars_;
  BatchEngineOptions opts_;
  int limit_;
  model::KvCache kv_;
  KvBlocks blocks_;
  ModelRunner runner_;
  EventOutbox outbox_;
  OutputStage output_;

  // Shared with submitters (under mu_).
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::unique_ptr<Job>> incoming_;
  std::unordered_set<std::string> live_ids_;  // queued or running
  std::unordered_set<std::string> cancel_requests_;
  bool admitting_ = true;
  std::string refusal_;                            // why submissions are refused once abandoned
  std::vector<std::weak_ptr<GuardedSink>> sinks_;  // of the jobs queued or running (expired: ended)
  bool stopping_ = false;
  bool busy_ = false;
  int n_queued_ = 0;   // submitted, not yet admitted (also while the scheduler has not seen them)
  int n_running_ = 0;  // admitted, not yet finished; n_queued_ + n_running_ <= max_seqs + max_queue
  BatchEngineStats stats_;

  // Scheduler thread only.
  std::deque<std::unique_ptr<Job>> waiting_;
  std::vector<std::unique_ptr<Job>> running_;  // admission order
  Scheduler sched_;
  std::vector<RunSlice> slices_;
  std::vector<Job*> slice_jobs_;  // the job of each slice
  std::vector<Sequence*> running_seqs_;
  std::vector<Job*> planned_jobs_;  // the jobs of running_seqs_
  bool overlap_ = false;
  // The step launched and not yet waited for (overlapped steps), and its jobs.
  struct InFlight {
    std::vector<RunSlice> slices;
    std::vector<Job*> jobs;
  };
  std::optional<InFlight> in_flight_;
  // Jobs that ended, kept while a step in flight may still name them.
  std::vector<std::unique_ptr<Job>> retired_;
  uint64_t prompt_tokens_total_ = 0;
  uint64_t steps_ = 0;
  uint64_t preemptions_total_ = 0;
  struct Totals {
    double plan_ms = 0;  // cancels, admission (prefix copies included) and the batch's plan
    double step_ms = 0;  // the model pass, sampling and events
    uint64_t batch_tokens = 0;
    uint64_t sampled_rows = 0;
    uint64_t steps_ahead = 0;  // launched while the step before was in flight (overlap_steps)
  } totals_;
  model::ForwardTimings timings_at_start_;
  model::OpProfile op_profile_;
  std::unique_ptr<StepTrace> trace_;

  std::thread thread_;
};

}  // namespace rbees::engine
