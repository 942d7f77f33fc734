#include "engine/output_stage.hpp"

#include <optional>
#include <utility>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "sampling/logprobs.hpp"

namespace rbees::engine {

using core::Clock;
using core::ms_between;

void OutputStage::deliver(const StepRows& rows, std::span<const RunSlice> slices, std::span<Job* const> jobs) {
  const bool greedy = rows.picked_on_device;
  const std::span<const float> logits = rows.logits;
  const auto sampling_start = Clock::now();
  double event_ms = 0;
  const size_t n_vocab = n_vocab_;
  for (size_t i = 0; i < slices.size(); ++i) {
    const RunSlice& sl = slices[i];
    Job& job = *jobs[i];
    Sequence& s = *job.seq;
    // Ended after an overlapped step was launched with it: nobody reads its row.
    if (s.state() == SequenceState::finished) continue;
    if (!sl.advanced) {
      s.computed(sl.n_tokens);
      blocks_.computed(s.id(), s.tokens(), s.n_computed());
    }
    if (sl.first_row >= 0) gather_prompt_logprobs(job, sl, logits);
    if (sl.logits_row < 0) continue;
    sampling::SampledToken lp;
    TokenResult r;
    if (greedy) {
      ++totals_.device_picks;
      if (s.masked_greedy()) ++totals_.masked_device_picks;
      r = sl.advanced ? s.resolve_pending() : s.on_greedy_token(rows.picks[static_cast<size_t>(sl.logits_row)]);
    } else if (sl.advanced) {
      r = s.resolve_pending(&lp);  // drawn by take_pending()
    } else {
      const std::span<const float> row(logits.data() + static_cast<size_t>(sl.logits_row) * n_vocab, n_vocab);
      r = s.on_logits(row, job.request.logprobs, &lp);
    }
    if (r.stop_matched) job.stop_matched = r.stop_matched;
    ++totals_.generated_tokens;
    if (!job.has_first_token) {
      job.has_first_token = true;
      job.first_token = Clock::now();
    }
    if (job.sink) {
      const auto event_start = Clock::now();
      TokenEvent ev;
      ev.id = s.tokens().back();
      ev.text = std::move(r.text);
      if (job.request.logprobs) {
        ev.logprob = lp.logprob;
        ev.top_logprobs = std::move(lp.top);
      }
      outbox_.post(job.sink, job.sink_status, std::move(ev));
      // Set already when the outbox delivers at once (no thread of its own); else seen next step.
      if (job.sink_status->failed.load()) job.cancelled = true;
      event_ms += ms_between(event_start, Clock::now());
    }
  }
  totals_.sample_ms += ms_between(sampling_start, Clock::now()) - event_ms;
}

void OutputStage::take_pending(const StepRows& rows, std::span<const RunSlice> slices, std::span<Job* const> jobs) {
  const auto start = Clock::now();
  drawn_.clear();
  for (size_t i = 0; i < slices.size(); ++i) {
    const RunSlice& sl = slices[i];
    Sequence& s = *sl.seq;
    // A sequence that ended meanwhile dropped its placeholder.
    if (!sl.advanced || sl.logits_row < 0 || !s.has_pending()) continue;
    if (rows.picked_on_device) {
      s.fill_pending(rows.picks[static_cast<size_t>(sl.logits_row)]);
    } else {
      drawn_.push_back(i);
    }
  }
  // Each draw touches its own sequence alone (its sampler, random stream and tokens).
  pool_.for_each(drawn_.size(), [&](size_t k) {
    const size_t i = drawn_[k];
    const auto row = static_cast<size_t>(slices[i].logits_row);
    slices[i].seq->sample_pending(rows.logits.subspan(row * n_vocab_, n_vocab_), jobs[i]->request.logprobs);
  });
  totals_.sample_ms += ms_between(start, Clock::now());
}

void OutputStage::gather_prompt_logprobs(Job& job, const RunSlice& sl, std::span<const float> logits) {
  Sequence& s = *job.seq;
  const size_t n_vocab = n_vocab_;
  const int from = s.n_computed() - sl.n_tokens;
  if (from == 0) {
    job.prompt_lp.clear();
    job.prompt_lp.push_back({s.tokens()[0], std::nullopt, {}});
  }
  // Row i predicts the token at position from + i + 1.
  for (int i = 0; i < sl.n_tokens && from + i + 1 < s.n_prompt(); ++i) {
    const size_t r = static_cast<size_t>(sl.first_row) + static_cast<size_t>(i);
    const std::span<const float> row(logits.data() + r * n_vocab, n_vocab);
    const int32_t next = s.tokens()[static_cast<size_t>(from) + static_cast<size_t>(i) + 1];
    const double lse = sampling::log_sum_exp(row);
    job.prompt_lp.push_back({next, sampling::token_logprob(row, next, lse),
                             sampling::top_logprobs(row, job.request.logprobs.value_or(0), lse)});
  }
  if (s.n_computed() < s.n_prompt()) return;
  // Sent once: a preempted sequence computes its prompt again, from the prefix cache if it can.
  s.set_computes_whole_prompt(false);
  if (!job.sink) return;
  outbox_.post(job.sink, job.sink_status, std::move(job.prompt_lp));
  if (job.sink_status->failed.load()) job.cancelled = true;
  job.prompt_lp = {};
}

}  // namespace rbees::engine
