#include "app/batching_options.hpp"

#include "app/common_options.hpp"

#include <optional>
#include <string>

namespace rbees::app {

void add_greedy_on_device_option(CLI::App& cmd, std::optional<bool>& on) {
  add_auto_switch(cmd, "--greedy-on-device", on,
                  "Steps whose every row is greedy (under a grammar's mask or not) let the model's graph pick the "
                  "tokens, so only their ids leave the device: auto (on off the CPU), on, off");
}

void add_batching_options(CLI::App& cmd, engine::BatchEngineOptions& o, engine::KvSizingRequest& sizing) {
  cmd.add_option("--ctx-size", sizing.ctx_size,
                 "KV-cache tokens shared by all sequences; one sequence may use up to the model's context or this, "
                 "whichever is smaller (default: 8192 on the CPU; on a GPU, --kv-memory-fraction of its free "
                 "memory after the weights)")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--max-seqs", sizing.max_seqs,
                 "Sequences generating at once (continuous batching; default: 8 on the CPU; on a GPU, one per 1024 "
                 "tokens of KV cache, or per model context if shorter, up to 256)")
      ->check(CLI::Range(1, 1024));
  cmd.add_option("--kv-memory-fraction", sizing.memory_fraction,
                 "Share of a GPU's free memory, after the weights, that the KV cache takes when --ctx-size is not "
                 "given")
      ->check(CLI::Range(0.01, 1.0))
      ->default_val(sizing.memory_fraction);
  cmd.add_option("--max-queue", o.max_queue,
                 "Requests waiting for a sequence slot, beyond --max-seqs running; past both: 503 OVERLOADED")
      ->check(CLI::NonNegativeNumber)
      ->default_val(64);
  cmd.add_option("--prefill-chunk", o.prefill_chunk,
                 "Prompt tokens evaluated per step over all new requests, so long prompts do not stall running ones "
                 "(0: what one forward graph holds, --max-graph-tokens); a step is also cut to fit one graph")
      ->check(CLI::NonNegativeNumber)
      ->default_val(0);
  cmd.add_option("--home-span-tokens", o.home_span_tokens,
                 "Each slot has a region of the KV cache (--ctx-size / --max-seqs cells) where its sequence attends "
                 "in place; a request that may grow past one region (prompt plus max_tokens) takes consecutive free "
                 "slots as one home (from a multiple of their number; as many as this many tokens fill, or the "
                 "model's context) and waits for them; 0: one region each (a longer sequence then attends over a "
                 "copy of its cells)")
      ->check(CLI::NonNegativeNumber)
      ->default_val(o.home_span_tokens);
  cmd.add_option("--span-admission", o.reserve_span_runs,
                 "While a request waits for consecutive free slots for its home: wait (the requests behind it wait "
                 "too) or reserve (it keeps the run with the most free slots; the requests behind it take the others)")
      // Only the two words: CLI::CheckedTransformer would also take its mapped values ("0", "1").
      ->transform(
          [](const std::string& v) -> std::string {
            if (v != "wait" && v != "reserve") throw CLI::ValidationError(v + " not in {wait,reserve}");
            return v == "reserve" ? "1" : "0";
          },
          "")
      ->type_name("TEXT:{wait,reserve}")
      ->default_str("wait");
  add_greedy_on_device_option(cmd, o.greedy_on_device);
  add_auto_switch(cmd, "--overlap-steps", o.overlap_steps,
                  "A step is launched before the one ahead of it is turned into events: the next step is planned "
                  "and prepared while the device computes, and the device starts it as soon as the step ahead's "
                  "tokens are taken (picked on the device, or drawn from its logits rows, under a grammar's mask "
                  "where one applies; a step's row for a request that stops on that step's token is computed and "
                  "dropped): auto (on where the model's inputs live on its device, one GPU), on, off");
  cmd.add_option_function<std::string>(
         "--event-thread", [&o](const std::string& v) { o.events_thread = v == "on"; },
         "Where a step's events (tokens, ends) are handed to the requests: on, a thread of their own while the "
         "next step computes; off, the engine's thread during the step")
      ->check(CLI::IsMember({"on", "off"}))
      ->default_str("on");
  o.warm_up = true;  // a worker warms up unless told not to
  cmd.add_option_function<std::string>(
         "--warm-up", [&o](const std::string& v) { o.warm_up = v == "on"; },
         "Before serving, run two prompts of as many tokens together as a step computes and two decode steps (and on a "
         "GPU prompts of 100, 300 and 700 tokens alone), so that a device's one-time set-up (on a GPU: the cuBLAS "
         "handle, kernels loaded at first use, memory pools) "
         "is not paid by the first requests: on, off")
      ->check(CLI::IsMember({"on", "off"}))
      ->default_str("on");
  cmd.add_flag("--profile-ops", o.profile_ops,
               "Time every step op by op and log, at shutdown, where the steps' device time went (engine_op_profile); "
               "each op is then run and waited for alone, so serving slows down: for diagnosis, not for production");
  cmd.add_option("--step-trace", o.step_trace,
                 "Append a JSON line per engine step to this file: the step's decode tokens, prompt chunks and the "
                 "cells they attended, and its time by phase (counts and times only, no text); "
                 "bench/step_costs.py fits a step's device time to them");
}

}  // namespace rbees::app
