#include "engine/batch_engine.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <span>
#include <stdexcept>
#include <thread>
#include <utility>
#include <variant>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/worker_pool.hpp"
#include "engine/generator.hpp"
#include "engine/kv_sizing.hpp"
#include "engine/prompt.hpp"

namespace rbees::engine {

namespace {
using core::Clock;
using core::ms_between;
// A prefill chunk of 0 takes what one forward graph holds.
BatchEngineOptions resolved(BatchEngineOptions o, ModelRuntime& rt) {
  if (o.prefill_chunk == 0) o.prefill_chunk = rt.model().max_graph_tokens();
  return o;
}
}  // namespace

BatchEngine::BatchEngine(ModelRuntime& runtime, const BatchEngineOptions& options)
    : rt_(runtime),
      grammars_(runtime.tokenizer()),
      opts_(resolved(options, runtime)),
      limit_(0),
      kv_(runtime.model().create_kv_cache(
          std::max(options.block_size, options.ctx_size / options.block_size * options.block_size), options.kv_type)),
      blocks_(kv_, options.block_size),
      runner_(runtime.model(), kv_, options.greedy_on_device.value_or(!runtime.device().is_cpu()),
              options.masks_while_computing),
      outbox_(options.events_thread),
      // Only overlapped steps draw on the helpers.
      output_(
          blocks_, outbox_, runtime.model().n_vocab(),
          options.overlap_steps.value_or(runtime.model().inputs_on_device())
              ? options.sampling_helpers.value_or(core::WorkerPool::helpers_for(std::thread::hardware_concurrency()))
              : 0),
      sched_(opts_.max_seqs, opts_.prefill_chunk, runtime.model().max_graph_tokens(), opts_.reserve_span_runs) {
  if (opts_.max_seqs <= 0) throw std::invalid_argument("max_seqs must be positive");
  if (opts_.max_queue < 0) throw std::invalid_argument("max_queue must not be negative");
  if (opts_.prefill_chunk <= 0) throw std::invalid_argument("prefill_chunk must be positive");
  // Each sequence slot gets a home region of the cache, so a decode token attends over its own
  // sequence's cells rather than over every sequence's.
  if (rt_.model().attends_by_region()) {
    const int n_regions = std::min(opts_.max_seqs, kv_.size());
    kv_.set_regions(n_regions,
                    home_max_span(kv_.size(), n_regions, std::min(opts_.home_span_tokens, rt_.context_length())));
    // A cached prefix in another slot's region is copied home rather than shared, so that the
    // sequence still attends over its own region alone.
    blocks_.set_copy_cells(
        [this](std::span<const int32_t> src, std::span<const int32_t> dst) { rt_.model().copy_cells(kv_, src, dst); });
  }
  limit_ = std::min(rt_.context_length(), blocks_.capacity_tokens());
  overlap_ = opts_.overlap_steps.value_or(rt_.model().inputs_on_device());
  running_.reserve(opts_.max_seqs);
  slices_.reserve(opts_.max_seqs);
  slice_jobs_.reserve(opts_.max_seqs);
  if (opts_.warm_up) warm_up();
  log::info("engine_ready", "continuous batching engine started",
            {{"ctx_size", kv_.size()},
             {"max_seqs", opts_.max_seqs},
             {"max_queue", opts_.max_queue},
             {"prefill_chunk", opts_.prefill_chunk},
             {"graph_tokens", rt_.model().max_graph_tokens()},
             {"block_size", opts_.block_size},
             {"region_tokens", kv_.region_size()},
             {"max_home_span", kv_.max_span()},
             {"span_admission", opts_.reserve_span_runs ? "reserve" : "wait"},
             {"greedy_on_device", runner_.greedy_on_device()},
             {"decode_buckets", rt_.model().pads_decode_steps()},
             {"stable_decode_shapes", rt_.model().stable_decode_shapes()},
             {"split_prompt_attention", rt_.model().splits_prompt_attention()},
             {"sparse_decode_runs", rt_.model().sparse_decode_runs()},
             {"inputs_on_device", rt_.model().inputs_on_device()},
             {"overlap_steps", overlap_},
             {"sampling_helpers", output_.sampling_helpers()},
             {"sequence_limit", limit_}});
  if (!opts_.step_trace.empty()) {
    trace_ = std::make_unique<StepTrace>(opts_.step_trace,
                                         nlohmann::ordered_json{{"trace", "steps"},
                                                                {"device", rt_.device().info().id},
                                                                {"ctx_size", kv_.size()},
                                                                {"max_seqs", opts_.max_seqs},
                                                                {"prefill_chunk", opts_.prefill_chunk},
                                                                {"graph_tokens", rt_.model().max_graph_tokens()},
                                                                {"region_tokens", kv_.region_size()}});
  }
  timings_at_start_ = rt_.model().timings();
  if (opts_.profile_ops) rt_.model().set_op_profile(&op_profile_);
  thread_ = std::thread([this] { run(); });
}

BatchEngine::~BatchEngine() {
  shutdown();
}

void BatchEngine::shutdown() {
  {
    std::lock_guard lk(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    admitting_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BatchEngine::stop_admitting() {
  std::lock_guard lk(mu_);
  admitting_ = false;
}

bool BatchEngine::has_room() const {
  return n_queued_ + n_running_ < opts_.max_seqs + opts_.max_queue;
}

std::string BatchEngine::overloaded_message() const {
  return "the sequence slots and the queue are full (" + std::to_string(opts_.max_seqs + opts_.max_queue) +
         " requests running or waiting: " + std::to_string(opts_.max_seqs) + " slots, " +
         std::to_string(opts_.max_queue) + " queue places)";
}

SubmitResult BatchEngine::submit(Request request, std::shared_ptr<Sink> sink) {
  SubmitResult res;
  {
    std::lock_guard lk(mu_);
    if (!admitting_)
      return {Admission::shutting_down, refusal_.empty() ? "the worker is shutting down" : refusal_, 0, "", ""};
    if (!has_room()) return {Admission::overloaded, overloaded_message(), 0, "", ""};
    if (live_ids_.count(request.job_id) != 0) {
      return {Admission::invalid, "job_id '" + request.job_id + "' is already running", 0, "job_id", "unique"};
    }
  }
  std::vector<int32_t> prompt;
  try {
    prompt = encode_prompt(rt_, request.prompt);
  } catch (const std::invalid_argument& e) {
    // A chat prompt's messages cannot fail here (the server renders them first); token ids can.
    const auto* invalid = dynamic_cast<const InvalidPrompt*>(&e);
    const char* field = std::holds_alternative<ChatPrompt>(request.prompt) ? "messages" : "prompt";
    return {Admission::invalid, e.what(), 0, invalid ? invalid->field : field, "valid"};
  }
  const int n_prompt = static_cast<int>(prompt.size());
  res.prompt_tokens = n_prompt;
  if (n_prompt == 0) return {Admission::invalid, "the prompt has no tokens", 0, "prompt", "non_empty"};
  if (request.max_tokens && *request.max_tokens <= 0) {
    return {Admission::invalid, "max_tokens must be positive", n_prompt, "max_tokens", "positive"};
  }
  const char* prompt_field = std::holds_alternative<ChatPrompt>(request.prompt) ? "messages" : "prompt";
  if (n_prompt >= limit_ || (request.max_tokens && n_prompt + *request.max_tokens > limit_)) {
    std::string msg = "the prompt has " + std::to_string(n_prompt) + " tokens";
    if (request.max_tokens) msg += " and max_tokens is " + std::to_string(*request.max_tokens);
    msg += "; a sequence holds at most " + std::to_string(limit_) + " tokens";
    // A prompt that leaves no room for one token is the prompt's fault; otherwise max_tokens asks
    // for more than is left.
    return {Admission::invalid, msg, n_prompt, n_prompt >= limit_ ? prompt_field : "max_tokens", "context_length"};
  }
  const int32_t n_vocab = rt_.model().n_vocab();
  for (const auto& [id, bias] : request.sampling.logit_bias) {
    if (id < 0 || id >= n_vocab) {
      return {Admission::invalid,
              "logit_bias names token id " + std::to_string(id) + ", outside the vocabulary (0.." +
                  std::to_string(n_vocab - 1) + ")",
              n_prompt, "logit_bias", "token_id"};
    }
  }

  // Compiled here, on the submitting thread: a new schema's compile does not hold up the steps.
  std::unique_ptr<sampling::LogitsConstraint> constraint;
  try {
    constraint = grammars_.make(request);
  } catch (const std::invalid_argument& e) {
    return {Admission::invalid, e.what(), n_prompt, request.grammar_field, "grammar"};
  }

  auto job = std::make_unique<Job>();
  job->job_id = request.job_id;
  job->sink_status->job_id = job->job_id;
  std::shared_ptr<GuardedSink> guarded = sink ? std::make_shared<GuardedSink>(std::move(sink)) : nullptr;
  job->sink = guarded;
  job->submitted = Clock::now();
  ContinuationLimits limits =
      continuation_limits(n_prompt, request.max_tokens, limit_, request.ignore_eos, request.stop);
  limits.special_text = request.special_text;
  job->seq = std::make_unique<Sequence>(std::move(prompt), request.sampling, rt_.tokenizer(), std::move(limits));
  if (constraint) job->seq->constrain(std::move(constraint));
  // Prompt log-probabilities need the logits of every prompt position: no cached prefix is reused.
  job->prompt_logprobs = request.echo && request.logprobs.has_value();
  job->seq->set_computes_whole_prompt(job->prompt_logprobs);
  job->max_new_tokens = job->seq->max_new_tokens();
  job->request = std::move(request);
  {
    std::lock_guard lk(mu_);
    if (!admitting_)
      return {Admission::shutting_down, refusal_.empty() ? "the worker is shutting down" : refusal_, 0, "", ""};
    if (!has_room()) return {Admission::overloaded, overloaded_message(), 0, "", ""};
    if (!job->job_id.empty() && !live_ids_.insert(job->job_id).second) {
      return {Admission::invalid, "job_id '" + job->job_id + "' is already running", 0, "job_id", "unique"};
    }
    if (guarded) {
      std::erase_if(sinks_, [](const std::weak_ptr<GuardedSink>& w) { return w.expired(); });
      sinks_.push_back(guarded);
    }
    ++n_queued_;
    stats_.queue_length = n_queued_;
    incoming_.push_back(std::move(job));
  }
  cv_.notify_all();
  return res;
}

namespace {
constexpr int kWarmUpNewTokens = 3;  // a warm-up prompt's token, then two decode steps
}  // namespace

std::vector<int32_t> warm_up_prompt(int n, int64_t n_vocab, int k) {
  std::vector<int32_t> ids(static_cast<size_t>(std::max(n, 0)));
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = static_cast<int32_t>((1 + k + 7919 * static_cast<int64_t>(i)) % n_vocab);
  }
  return ids;
}

// Runs on the constructing thread, before the engine's thread starts: the scheduler's own steps,
// with a job that has no sink.
void BatchEngine::warm_up() {
  const auto start = Clock::now();
  // Two sequences where there are two slots: their decode steps then take the path of several
  // streams, as steps under load do, and their prompts, one step's worth together, attend as runs of
  // the lengths prompt chunks have. Each within one home: a longer prompt would attend over
  // gathered cells, not the path steps take.
  const int n_seqs = std::min(2, opts_.max_seqs);
  const int home = kv_.n_regions() > 1 ? kv_.region_size() * kv_.max_span() : kv_.size();
  const int n = std::min({std::min(opts_.prefill_chunk, rt_.model().max_graph_tokens()) / n_seqs, home, limit_}) -
                kWarmUpNewTokens;
  if (n < 1) return;
  int steps = run_warm_up(std::vector<int>(static_cast<size_t>(n_seqs), n), 0);
  const bool gpu = !rt_.devices().front()->is_cpu();
  const std::vector<int> alone =
      opts_.warm_up_alone.value_or(gpu ? std::vector<int>{100, 300, 700} : std::vector<int>{});
  int k = n_seqs;
  for (int length : alone) {
    if (length < 1 || length + kWarmUpNewTokens > std::min(home, limit_)) continue;  // no room: not a step's shape
    steps += run_warm_up({length}, k++);
  }
  blocks_.drop_unused_cached();
  steps_ = 0;
  totals_ = {};
  prompt_tokens_total_ = 0;
  preemptions_total_ = 0;
  output_.reset_totals();
  log::info("warm_up", "prompts and their first tokens ran before serving",
            {{"sequences", n_seqs},
             {"prompt_tokens_each", n},
             {"prompts_alone", k - n_seqs},
             {"steps", steps},
             {"ms", ms_between(start, Clock::now())}});
}

// The warm-up's jobs, prompts of these lengths together (the k-th from first_k), run through the
// scheduler's own steps until they end; returns the steps taken. Their jobs have no sink.
int BatchEngine::run_warm_up(const std::vector<int>& lengths, int first_k) {
  sampling::SamplingParams greedy;
  greedy.temperature = 0.0f;
  int k = first_k;
  for (int n : lengths) {
    auto job = std::make_unique<Job>();
    job->submitted = Clock::now();
    // Prompts that differ from their first token: one does not wait for another's prefix.
    job->seq = std::make_unique<Sequence>(warm_up_prompt(n, rt_.model().n_vocab(), k++), greedy, rt_.tokenizer(),
                                          continuation_limits(n, kWarmUpNewTokens, limit_, true, {}));
    job->max_new_tokens = job->seq->max_new_tokens();
    ++n_queued_;
    waiting_.push_back(std::move(job));
  }
  int steps = 0;
  while (!waiting_.empty() || !running_.empty() || in_flight_) {
    admit();
    if (plan_step()) {
      evaluate();
    } else if (in_flight_) {
      finish_in_flight();
      retired_.clear();
    } else {
      break;  // not admitted (no room): nothing to warm with
    }
    ++steps;
  }
  retired_.clear();
  for (auto& j : waiting_) finish(*j, FinishReason::cancelled);
  for (auto& j : running_) finish(*j, FinishReason::cancelled);
  waiting_.clear();
  running_.clear();
  return steps;
}

void BatchEngine::abandon(const Failure& failure, const std::string& reason) {
  std::vector<std::shared_ptr<GuardedSink>> sinks;
  {
    std::lock_guard lk(mu_);
    admitting_ = false;
    refusal_ = reason;
    for (const auto& w : sinks_) {
      if (auto s = w.lock()) sinks.push_back(std::move(s));
    }
    sinks_.clear();
  }
  for (const auto& s : sinks) {
    try {
      s->fail(failure);
    } catch (const std::exception& e) {
      log::warn("sink_failed", e.what());
    }
  }
}

bool BatchEngine::cancel(const std::string& job_id) {
  {
    std::lock_guard lk(mu_);
    if (live_ids_.count(job_id) == 0) return false;
    cancel_requests_.insert(job_id);
  }
  cv_.notify_all();
  return true;
}

BatchEngineStats BatchEngine::detailed_stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void BatchEngine::wait_idle() {
  std::unique_lock lk(mu_);
  idle_cv_.wait(lk, [&] { return live_ids_.empty() && !busy_; });
  lk.unlock();
  // The engine hands a step's events over before it is idle: this waits for them to arrive.
  outbox_.wait_drained();
}

// Moves newly submitted jobs to the scheduler's own queue; waits while there is nothing to do.
bool BatchEngine::take_incoming(std::unique_lock<std::mutex>& lk) {
  // Waiting jobs count as work: one left unadmitted while the last running job finished must be
  // admitted now, not when the next request happens to arrive.
  cv_.wait(lk, [&] {
    return stopping_ || !incoming_.empty() || !cancel_requests_.empty() || !running_.empty() || !waiting_.empty() ||
           in_flight_.has_value();
  });
  while (!incoming_.empty()) {
    waiting_.push_back(std::move(incoming_.front()));
    incoming_.pop_front();
  }
  return !stopping_;
}

void BatchEngine::run() {
  std::unique_lock lk(mu_);
  while (take_incoming(lk)) {
    busy_ = true;
    auto cancels = std::move(cancel_requests_);
    cancel_requests_.clear();
    lk.unlock();

    auto cancel_if = [&](Job& j) {
      j.cancelled |= cancels.count(j.job_id) != 0 || j.sink_status->failed.load() || (j.sink && j.sink->client_gone());
    };
    for (auto& j : waiting_) cancel_if(*j);
    for (auto& j : running_) cancel_if(*j);
    if (!in_flight_) retired_.clear();  // no step names them any more (their sinks go too)
    const auto t0 = Clock::now();
    apply_cancels();
    admit();
    if (!plan_step() && in_flight_) {
      // Nothing new to launch: the step in flight is collected.
      try {
        finish_in_flight();
        retired_.clear();
      } catch (const std::exception& e) {
        log::error("inference_failed", e.what(), {{"running", static_cast<int>(running_.size())}});
        fail_all(e.what());
      }
    } else if (!slices_.empty()) {
      const auto t1 = Clock::now();
      StepContents contents;
      model::ForwardTimings before;
      if (trace_) {
        contents = StepContents::of(slices_, static_cast<int>(running_.size()), static_cast<int>(waiting_.size()));
        before = rt_.model().timings();
      }
      try {
        evaluate();
      } catch (const std::exception& e) {
        log::error("inference_failed", e.what(), {{"running", static_cast<int>(running_.size())}});
        fail_all(e.what());
      }
      const double plan_ms = ms_between(t0, t1);
      const double step_ms = ms_between(t1, Clock::now());
      totals_.plan_ms += plan_ms;
      totals_.step_ms += step_ms;
      if (trace_) trace_->record(contents, rt_.model().timings().since(before), plan_ms, step_ms);
    }
    publish_stats();
    outbox_.flush();

    lk.lock();
    busy_ = false;
    if (live_ids_.empty()) idle_cv_.notify_all();
  }
  lk.unlock();
  if (in_flight_) {
    runner_.abandon_ahead();
    in_flight_.reset();
  }
  log_totals();
  // Stopping: every job still here ends as cancelled.
  for (auto& j : waiting_) finish(*j, FinishReason::cancelled);
  for (auto& j : running_) finish(*j, FinishReason::cancelled);
  waiting_.clear();
  running_.clear();
  lk.lock();
  for (auto& j : incoming_) {
    lk.unlock();
    finish(*j, FinishReason::cancelled);
    lk.lock();
  }
  incoming_.clear();
  outbox_.flush();
  n_queued_ = 0;
  n_running_ = 0;
  idle_cv_.notify_all();
}

// Tells the sink how the job ended and frees everything the job holds; the caller drops the job.
void BatchEngine::finish(Job& job, FinishReason reason) {
  Sequence& seq = *job.seq;
  // Holding a slot (a preempted sequence, which may end in the queue on a token it had in flight,
  // holds none and counts as queued).
  const bool was_admitted = seq.id() >= 0;
  FinalResult end;
  end.trailing_text = seq.finish(reason);
  end.reason = seq.finish_reason();
  if (end.reason == FinishReason::stop_sequence) end.stop_sequence = job.stop_matched;
  end.prompt_tokens = seq.n_prompt();
  end.cached_prompt_tokens = seq.n_reused();
  end.tokens_out = seq.n_generated();
  if (job.has_first_token) {
    end.prefill_ms = ms_between(job.submitted, job.first_token);
    end.decode_ms = ms_between(job.first_token, Clock::now());
  }
  if (was_admitted) {
    blocks_.release(seq.id());
    sched_.release(seq.id());
  }
  // The id is free before the client hears the end, so a client may reuse it at once.
  {
    std::lock_guard lk(mu_);
    if (was_admitted) {
      --n_running_;
    } else {
      --n_queued_;
    }
    live_ids_.erase(job.job_id);
  }
  if (job.sink) outbox_.post(job.sink, job.sink_status, std::move(end));
}

void BatchEngine::apply_cancels() {
  auto drop = [&](auto& list) {
    for (auto it = list.begin(); it != list.end();) {
      if ((*it)->cancelled) {
        finish(**it, FinishReason::cancelled);
        retired_.push_back(std::move(*it));  // a step in flight may name it
        it = list.erase(it);
      } else {
        ++it;
      }
    }
  };
  drop(waiting_);
  drop(running_);
}

void BatchEngine::admit() {
  sched_.begin_admission();
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    Job& job = **it;
    Sequence& seq = *job.seq;
    if (awaits_shared_prefix(seq)) break;
    const auto slot = sched_.admit(seq, seq.n_prompt() + job.max_new_tokens, blocks_);
    if (!slot) {
      // First come, first served: nobody overtakes the oldest request, except one that waits for a
      // run of free slots, whose run the scheduler keeps for it.
      if (sched_.waits_for_run()) {
        ++it;
        continue;
      }
      break;
    }
    prompt_tokens_total_ += static_cast<uint64_t>(seq.n_prompt());
    log::debug("admitted", "sequence admitted",
               {{"job_id", job.job_id}, {"seq", *slot}, {"prompt_tokens", seq.n_prompt()}, {"reused", seq.n_reused()}});
    running_.push_back(std::move(*it));
    it = waiting_.erase(it);
    // One move, under one lock: the sum that bounds admission never dips in between.
    std::lock_guard lk(mu_);
    --n_queued_;
    ++n_running_;
  }
}

// Requests that start alike and arrive together (n samples of a prompt, a batch of prompts with
// a common beginning) would each compute the common blocks: the later ones wait until a running
// sequence has computed them, and then take them from the prefix cache.
bool BatchEngine::awaits_shared_prefix(const Sequence& seq) const {
  if (seq.computes_whole_prompt()) return false;
  const auto& mine = seq.tokens();
  const size_t reusable = static_cast<size_t>(seq.n_to_prefill() - 1);  // the last one is computed anyway
  const size_t block = static_cast<size_t>(opts_.block_size);
  for (const auto& j : running_) {
    const Sequence& r = *j->seq;
    if (r.state() != SequenceState::prefilling) continue;
    const auto& theirs = r.tokens();
    const size_t limit = std::min(reusable, static_cast<size_t>(r.n_to_prefill()));
    const size_t shared = static_cast<size_t>(
        std::mismatch(mine.begin(), mine.begin() + static_cast<std::ptrdiff_t>(limit), theirs.begin()).first -
        mine.begin());
    if (shared / block > 0 && static_cast<size_t>(r.n_computed()) < shared / block * block) return true;
  }
  return false;
}

bool BatchEngine::plan_step() {
  slices_.clear();
  slice_jobs_.clear();
  running_seqs_.clear();
  std::vector<Job*>& jobs = planned_jobs_;
  jobs.clear();
  for (auto& j : running_) {
    // Its token in flight ends it: nothing follows.
    if (j->seq->pending_is_last()) continue;
    running_seqs_.push_back(j->seq.get());
    jobs.push_back(j.get());
  }
  const Scheduler::Plan plan = sched_.plan(running_seqs_, blocks_);
  for (const StepSlice& p : plan.slices) {
    Job* j = jobs[p.index];
    RunSlice sl;
    sl.seq = j->seq.get();
    sl.n_tokens = p.n_tokens;
    sl.sample = p.sample;
    sl.logprobs = j->request.logprobs.has_value();
    slices_.push_back(sl);
    slice_jobs_.push_back(j);
  }
  if (!plan.preempted.empty()) {
    // Indices into the jobs planned, which are running_'s less those ending in flight.
    std::vector<size_t> preempted;
    for (size_t i : plan.preempted) {
      preempted.push_back(static_cast<size_t>(
          std::find_if(running_.begin(), running_.end(), [&](const auto& r) { return r.get() == jobs[i]; }) -
          running_.begin()));
    }
    std::sort(preempted.begin(), preempted.end());
    requeue(preempted);
  }
  return !slices_.empty();
}

// Preempted jobs go back to the head of the queue, oldest first, ahead of every new request; the
// slices point at jobs, not at positions in running_, so they stay valid.
void BatchEngine::requeue(const std::vector<size_t>& preempted) {
  std::vector<std::unique_ptr<Job>> back;
  back.reserve(preempted.size());
  for (size_t i : preempted) back.push_back(std::move(running_[i]));
  std::erase(running_, nullptr);
  for (auto it = back.rbegin(); it != back.rend(); ++it) waiting_.push_front(std::move(*it));
  preemptions_total_ += preempted.size();
  log::debug("preempted", "sequences preempted for KV space", {{"count", static_cast<int>(preempted.size())}});
  std::lock_guard lk(mu_);
  n_running_ -= static_cast<int>(preempted.size());
  n_queued_ += static_cast<int>(preempted.size());
}

// Where the engine thread's time went, once, when it stops: for benchmarks (a step's time split
// into planning, the model's phases and the host's output work). No request content.
void BatchEngine::log_totals() const {
  // Since this engine started: the runtime may have run other passes before.
  const model::ForwardTimings t = rt_.model().timings().since(timings_at_start_);
  const double model_ms = t.build_ms + t.upload_ms + t.compute_ms + t.download_ms;
  log::info("engine_totals", "engine time by phase",
            {{"steps", static_cast<unsigned long long>(steps_)},
             {"batch_tokens", static_cast<unsigned long long>(totals_.batch_tokens)},
             {"sampled_rows", static_cast<unsigned long long>(totals_.sampled_rows)},
             {"steps_ahead", static_cast<unsigned long long>(totals_.steps_ahead)},
             {"plan_ms", totals_.plan_ms},
             {"step_ms", totals_.step_ms},
             {"mask_ms", runner_.mask_ms()},
             {"sample_ms", output_.totals().sample_ms},
             {"device_picks", static_cast<unsigned long long>(output_.totals().device_picks)},
             {"masked_device_picks", static_cast<unsigned long long>(output_.totals().masked_device_picks)},
             {"graphs", static_cast<unsigned long long>(t.graphs)},
             {"graphs_built", static_cast<unsigned long long>(t.graphs_built)},
             {"graph_build_ms", t.build_ms},
             {"input_upload_ms", t.upload_ms},
             {"input_fill_ms", t.fill_ms},
             {"gathered_tokens", static_cast<unsigned long long>(t.gathered_tokens)},
             {"span_tokens", static_cast<unsigned long long>(t.span_tokens)},
             {"split_run_tokens", static_cast<unsigned long long>(t.split_run_tokens)},
             {"placeholder_streams", static_cast<unsigned long long>(t.placeholder_streams)},
             {"graph_compute_ms", t.compute_ms},
             {"output_download_ms", t.download_ms},
             {"output_stage_ms", totals_.step_ms - model_ms}});
  if (!opts_.profile_ops) return;
  rt_.model().set_op_profile(nullptr);
  // The ops by time over all steps, as "op ms count" triples; each op ran and was waited for alone,
  // so the figures rank ops, they do not add up to the step times above.
  std::string ops;
  for (const auto& [op, e] : op_profile_.ranked()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s%s %.1f %llu", ops.empty() ? "" : "; ", op.c_str(), e.ms,
                  static_cast<unsigned long long>(e.count));
    ops += buf;
  }
  log::info("engine_op_profile", "device time by op over all steps (op ms count; each op waited for alone)",
            {{"passes", static_cast<unsigned long long>(op_profile_.passes)}, {"ops", ops}});
}

void BatchEngine::fail_all(const std::string& message) {
  if (in_flight_) {
    runner_.abandon_ahead();
    in_flight_.reset();
  }
  // A sequence preempted with a token in flight never gets it: it fails with the running ones.
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if ((*it)->seq->has_pending()) {
      running_.push_back(std::move(*it));
      it = waiting_.erase(it);
      std::lock_guard lk(mu_);
      --n_queued_;
      ++n_running_;
    } else {
      ++it;
    }
  }
  for (auto& j : running_) {
    Sequence& s = *j->seq;
    s.finish(FinishReason::cancelled);
    FinalResult end;
    end.reason = FinishReason::cancelled;
    end.failure = Failure{FailureKind::inference_failed, message, true};
    end.prompt_tokens = s.n_prompt();
    end.tokens_out = s.n_generated();
    if (s.id() >= 0) {  // not one preempted meanwhile, which holds nothing
      blocks_.release(s.id());
      sched_.release(s.id());
    }
    // As in finish(): the slot and the id are free before the client hears, so a retry is admitted.
    {
      std::lock_guard lk(mu_);
      --n_running_;
      live_ids_.erase(j->job_id);
    }
    if (j->sink) outbox_.post(j->sink, j->sink_status, std::move(end));
  }
  running_.clear();
}

void BatchEngine::publish_stats() {
  std::lock_guard lk(mu_);
  stats_.queue_length = n_queued_;
  stats_.running_sequences = static_cast<int>(running_.size());
  stats_.kv_cache_usage = blocks_.usage();
  stats_.prefix_cache_hit_tokens = blocks_.hit_tokens_total();
  stats_.prefix_cache_copied_tokens = blocks_.copied_tokens_total();
  stats_.preemptions = preemptions_total_;
  stats_.prompt_tokens = prompt_tokens_total_;
  stats_.generated_tokens = output_.totals().generated_tokens;
  stats_.steps = steps_;
  stats_.steps_ahead = totals_.steps_ahead;
  stats_.mask_ms = runner_.mask_ms();
  stats_.sample_ms = output_.totals().sample_ms;
  stats_.device_picks = output_.totals().device_picks;
  stats_.masked_device_picks = output_.totals().masked_device_picks;
}

}  // namespace rbees::engine

namespace rbees::engine {

EngineStats BatchEngine::stats() const {
  std::lock_guard lk(mu_);
  return {stats_.queue_length, stats_.running_sequences, stats_.kv_cache_usage};
}

HealthInfo BatchEngine::health() const {
  HealthInfo h;
  const auto& model = rt_.model();
  const auto weights = model.residency();
  h.model = rt_.name();
  h.device.clear();
  for (const core::Device* d : model.devices()) h.device += (h.device.empty() ? "" : ",") + d->info().id;
  const auto kv = kv_.residency();
  h.resident = weights.resident() && kv.resident();
  h.quant_kind = model.config().source_dtype;
  // With --gpu-layers, only what is on the GPU counts (the rest is in host memory); across devices,
  // what is on this host's GPUs.
  const auto shares = model.device_shares(&kv_);
  for (size_t i = 0; i < shares.size(); ++i) {
    const auto& s = shares[i];
    h.devices.push_back({s.id, s.ggml_name, s.layers, s.input, s.output, s.weight_bytes, s.kv_bytes});
    const bool local_gpu =
        i < model.devices().size() && !model.devices()[i]->is_cpu() && !model.devices()[i]->info().is_remote;
    if (local_gpu) h.vram_bytes += s.weight_bytes + s.kv_bytes;
  }
  h.tokenizer_kind = std::string(rt_.tokenizer().kind());
  h.vocab_size = static_cast<int64_t>(rt_.tokenizer().vocab_size());
  h.context_length = limit_;
  h.kv_cache_tokens = kv_.size();
  h.region_tokens = kv_.n_regions() > 1 ? kv_.region_size() : 0;
  h.max_home_span = kv_.max_span();
  h.max_seqs = opts_.max_seqs;
  h.max_queue = opts_.max_queue;
  return h;
}

std::vector<int32_t> BatchEngine::tokenize(std::string_view text, bool add_special) const {
  return rt_.tokenizer().encode(text, add_special);
}

std::string BatchEngine::detokenize(std::span<const int32_t> ids) const {
  return rt_.tokenizer().decode(ids);
}

std::string BatchEngine::token_text(int32_t id) const {
  return rt_.tokenizer().token_bytes(id, false);
}

chat::ToolCallFormat BatchEngine::tool_call_format() const {
  const chat::ChatTemplate* t = rt_.chat_template();
  return t ? chat::detect_tool_call_format(t->source()) : chat::ToolCallFormat::kNone;
}

}  // namespace rbees::engine
