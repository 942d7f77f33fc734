#pragma once
// One line per engine step (serve --step-trace): what the step computed (decode tokens and the cells
// they attended, prompt chunks and the query-key pairs of their attention) and where its time went
// (graph build, inputs, device compute, the host's own work). Counts and times only, never token ids
// or text. bench/step_costs.py fits a step's device time to its contents from these lines.

#include <chrono>
#include <cstdint>
#include <fstream>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/model_runner.hpp"
#include "model/llama_model.hpp"

namespace rbees::engine {

struct StepContents {
  int running = 0;           // sequences admitted, decoding or prefilling
  int waiting = 0;           // requests queued behind them
  int decode = 0;            // decode tokens
  int64_t decode_cells = 0;  // cells those tokens attended over (each one's context length)
  int prompt_tokens = 0;
  int prompt_chunks = 0;
  int64_t prompt_pairs = 0;  // query-key pairs of the chunks' causal attention

  // Before the step runs: the slices' sequences still stand where the step starts.
  static StepContents of(std::span<const RunSlice> slices, int running, int waiting);
};

class StepTrace {
 public:
  // Appends to `path`, opening with `header` (one line per engine start, so runs can share a file);
  // throws naming the path when it cannot be written.
  StepTrace(const std::string& path, const nlohmann::ordered_json& header);
  // `model` is the model's time spent in this step alone (ForwardTimings::since); plan_ms and step_ms
  // the engine thread's planning and step (model pass, sampling, events) times.
  void record(const StepContents& c, const model::ForwardTimings& model, double plan_ms, double step_ms);

 private:
  std::string path_;
  std::ofstream out_;
  std::chrono::steady_clock::time_point start_;
  bool failed_ = false;
};

}  // namespace rbees::engine
