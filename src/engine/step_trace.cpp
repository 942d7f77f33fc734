#include "engine/step_trace.hpp"

#include <stdexcept>

#include "core/log.hpp"

namespace rbees::engine {

StepContents StepContents::of(std::span<const RunSlice> slices, int running, int waiting) {
  StepContents c;
  c.running = running;
  c.waiting = waiting;
  for (const RunSlice& s : slices) {
    const int64_t p = s.seq->n_computed();
    const int64_t n = s.n_tokens;
    if (s.seq->state() == SequenceState::decoding) {
      ++c.decode;
      c.decode_cells += p + 1;
    } else {
      c.prompt_tokens += s.n_tokens;
      ++c.prompt_chunks;
      c.prompt_pairs += n * p + n * (n + 1) / 2;
    }
  }
  return c;
}

StepTrace::StepTrace(const std::string& path, const nlohmann::ordered_json& header)
    : path_(path), out_(path, std::ios::app), start_(std::chrono::steady_clock::now()) {
  if (!out_) throw std::runtime_error("--step-trace: cannot open " + path + " for appending");
  out_ << header.dump() << '\n' << std::flush;
}

void StepTrace::record(const StepContents& c, const model::ForwardTimings& model, double plan_ms, double step_ms) {
  if (failed_) return;
  const double t_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  nlohmann::ordered_json line = {{"t_ms", t_ms},
                                 {"running", c.running},
                                 {"waiting", c.waiting},
                                 {"decode", c.decode},
                                 {"decode_cells", c.decode_cells},
                                 {"prompt_tokens", c.prompt_tokens},
                                 {"prompt_chunks", c.prompt_chunks},
                                 {"prompt_pairs", c.prompt_pairs},
                                 {"graphs", model.graphs},
                                 {"built", model.graphs_built},
                                 {"placeholder_streams", model.placeholder_streams},
                                 {"gathered_tokens", model.gathered_tokens},
                                 {"span_tokens", model.span_tokens},
                                 {"split_run_tokens", model.split_run_tokens},
                                 {"build_ms", model.build_ms},
                                 {"upload_ms", model.upload_ms},
                                 {"compute_ms", model.compute_ms},
                                 {"download_ms", model.download_ms},
                                 {"plan_ms", plan_ms},
                                 {"step_ms", step_ms}};
  // A line at a time, flushed: a server stopped by a signal keeps every step it ran.
  out_ << line.dump() << '\n' << std::flush;
  if (!out_) {
    // Tracing is diagnosis: serving goes on without it.
    failed_ = true;
    log::error("step_trace_failed", "cannot write the step trace; tracing stops", {{"path", path_}});
  }
}

}  // namespace rbees::engine
