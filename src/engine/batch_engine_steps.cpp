// Running a planned step (BatchEngine::evaluate): the model pass, the output stage and the
// retirement of ended jobs; with overlapped steps, a step launched as soon as the tokens of the step
// ahead of it are taken (picked on the device or drawn from its logits rows), whose output stage
// then runs while the device computes this one.
#include <utility>

#include "engine/batch_engine.hpp"

namespace rbees::engine {

void BatchEngine::evaluate() {
  if (overlap_) {
    if (in_flight_ && runner_.prepare_ahead(slices_)) {
      // This step is ready: it starts the moment the step in flight ends, and that step's output
      // stage runs while the device computes this one.
      const StepRows rows = wait_in_flight();
      runner_.launch_ahead();
      ++totals_.steps_ahead;
      count_step();
      deliver_in_flight(rows);
      advance(slices_, slice_jobs_);
      return;
    }
    if (in_flight_) {
      finish_in_flight();
      // Sequences that ended with the step in flight leave this one.
      size_t kept = 0;
      for (size_t i = 0; i < slices_.size(); ++i) {
        if (slices_[i].seq->state() == SequenceState::finished) continue;
        slices_[kept] = slices_[i];
        slice_jobs_[kept++] = slice_jobs_[i];
      }
      slices_.resize(kept);
      slice_jobs_.resize(kept);
      retired_.clear();
      if (slices_.empty()) return;
    }
    if (runner_.prepare_ahead(slices_)) {
      runner_.launch_ahead();
      count_step();
      advance(slices_, slice_jobs_);
      return;
    }
  }
  const StepRows rows = runner_.run(slices_);
  count_step();
  output_.deliver(rows, slices_, slice_jobs_);
  retire();
  if (!in_flight_) retired_.clear();
}

void BatchEngine::count_step() {
  ++steps_;
  totals_.batch_tokens += runner_.batch_tokens();
  totals_.sampled_rows += static_cast<uint64_t>(runner_.n_rows());
}

StepRows BatchEngine::wait_in_flight() {
  const StepRows rows = runner_.wait_ahead();
  output_.take_pending(rows, in_flight_->slices, in_flight_->jobs);
  return rows;
}

void BatchEngine::deliver_in_flight(const StepRows& rows) {
  // The jobs that ended before: the step in flight was the last to name them.
  const auto ended = std::move(retired_);
  retired_.clear();
  const InFlight f = std::move(*in_flight_);
  in_flight_.reset();
  output_.deliver(rows, f.slices, f.jobs);
  retire();
}

void BatchEngine::finish_in_flight() {
  deliver_in_flight(wait_in_flight());
}

void BatchEngine::advance(std::vector<RunSlice>& slices, std::vector<Job*>& jobs) {
  for (RunSlice& sl : slices) {
    Sequence& s = *sl.seq;
    if (s.state() == SequenceState::finished) continue;  // ended with the step before; its row is not read
    s.computed(sl.n_tokens);
    blocks_.computed(s.id(), s.tokens(), s.n_computed());
    if (sl.logits_row >= 0) s.push_pending();
    sl.advanced = true;
  }
  runner_.prepare_pending_masks(slices);
  in_flight_ = InFlight{slices, jobs};
}

// Finished (and disconnected) sequences leave at once.
void BatchEngine::retire() {
  // One preempted with a token in flight may have ended on it in the queue.
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if ((*it)->seq->state() == SequenceState::finished) {
      finish(**it, (*it)->seq->finish_reason());
      retired_.push_back(std::move(*it));
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = running_.begin(); it != running_.end();) {
    Job& job = **it;
    if (job.seq->state() == SequenceState::finished || job.cancelled) {
      finish(job, job.cancelled ? FinishReason::cancelled : job.seq->finish_reason());
      retired_.push_back(std::move(*it));
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace rbees::engine
