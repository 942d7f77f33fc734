#include "engine/model_runner.hpp"

#include <algorithm>
#include <functional>

#include "core/clock.hpp"

namespace rbees::engine {

using core::Clock;
using core::ms_since;

ModelRunner::ModelRunner(model::LlamaModel& model, model::KvCache& kv, bool greedy_on_device,
                         bool masks_while_computing)
    : model_(model), kv_(kv), greedy_on_device_(greedy_on_device), masks_while_computing_(masks_while_computing) {}

void ModelRunner::build_batch(std::span<RunSlice> slices) {
  batch_.tokens.clear();
  batch_.positions.clear();
  batch_.seq_ids.clear();
  batch_.want_logits.clear();
  int row = 0;
  for (RunSlice& sl : slices) {
    const Sequence& s = *sl.seq;
    const int from = s.n_computed();
    // A prompt whose log-probabilities are asked for wants every position's logits.
    const bool every_row = s.computes_whole_prompt() && s.state() == SequenceState::prefilling;
    for (int i = 0; i < sl.n_tokens; ++i) {
      batch_.add(s.tokens()[static_cast<size_t>(from) + static_cast<size_t>(i)], from + i, s.id(),
                 every_row || (sl.sample && i + 1 == sl.n_tokens));
    }
    if (every_row) {
      sl.first_row = row;
      sl.logits_row = sl.sample ? row + sl.n_tokens - 1 : -1;
      row += sl.n_tokens;
    } else {
      sl.first_row = -1;
      sl.logits_row = sl.sample ? row++ : -1;
    }
  }
  n_rows_ = row;
}

bool ModelRunner::step_is_greedy(std::span<const RunSlice> slices) {
  return std::all_of(slices.begin(), slices.end(), [](const RunSlice& sl) {
    const Sequence& s = *sl.seq;
    return sl.first_row < 0 && (sl.logits_row < 0 || ((s.plain_greedy() || s.masked_greedy()) && !sl.logprobs));
  });
}

// The step's rows' allowed-token bitsets for the device's pick, or an empty span when no row is
// constrained.
std::span<const uint64_t> ModelRunner::greedy_row_masks(std::span<const RunSlice> slices) {
  const bool any = std::any_of(slices.begin(), slices.end(),
                               [](const RunSlice& sl) { return sl.logits_row >= 0 && sl.seq->masked_greedy(); });
  if (!any) return {};
  const auto t = Clock::now();
  const size_t words = model_.greedy_mask_words();
  const std::span<uint64_t> masks = model_.greedy_masks(static_cast<size_t>(n_rows_));
  for (const RunSlice& sl : slices) {
    if (sl.logits_row < 0) continue;
    const std::span<uint64_t> row = masks.subspan(static_cast<size_t>(sl.logits_row) * words, words);
    if (sl.seq->masked_greedy()) {
      const std::span<const uint64_t> allowed = sl.seq->allowed_tokens();
      // Words past the grammar's mask (none, for a mask of the whole vocabulary) allow nothing.
      const size_t n = std::min(allowed.size(), words);
      std::copy_n(allowed.begin(), n, row.begin());
      std::fill(row.begin() + static_cast<std::ptrdiff_t>(n), row.end(), 0);
    } else {
      std::fill(row.begin(), row.end(), ~uint64_t{0});
    }
  }
  mask_ms_ += ms_since(t);
  return masks;
}

StepRows ModelRunner::run(std::span<RunSlice> slices) {
  build_batch(slices);
  StepRows out;
  out.picked_on_device = greedy_on_device_ && step_is_greedy(slices);
  if (out.picked_on_device) {
    // A constrained row's mask is then needed before the pass: the device adds it to the logits.
    out.picks = model_.forward_greedy(batch_, kv_, greedy_row_masks(slices));
    return out;
  }
  // A constrained sequence's mask depends only on the tokens it has taken, so it is computed while
  // the device computes the step, and the sampling after the pass finds it ready.
  const bool any_constrained = std::any_of(
      slices.begin(), slices.end(), [](const RunSlice& sl) { return sl.logits_row >= 0 && sl.seq->constrained(); });
  const std::function<void()> prepare_masks = [this, slices] {
    const auto t = Clock::now();
    for (const RunSlice& sl : slices) {
      if (sl.logits_row >= 0 && sl.seq->constrained()) sl.seq->prepare_sampling();
    }
    mask_ms_ += ms_since(t);
  };
  const bool ahead = any_constrained && masks_while_computing_;
  out.logits = model_.forward_view(batch_, kv_, ahead ? prepare_masks : std::function<void()>{});
  // The baseline: the same masks, after the pass, on the step's critical path.
  if (any_constrained && !ahead) prepare_masks();
  return out;
}

bool ModelRunner::prepare_ahead(std::span<RunSlice> slices) {
  build_batch(slices);
  // A prompt's every-row logits come back with the pass that computes them, not run ahead. A
  // constrained row is drawn on the host from its logits row, under its grammar's mask.
  const bool can = std::none_of(slices.begin(), slices.end(), [](const RunSlice& sl) { return sl.first_row >= 0; });
  if (!can || !model_.can_run_ahead(batch_, kv_)) return false;
  prepared_picks_ = greedy_on_device_ && std::all_of(slices.begin(), slices.end(), [](const RunSlice& sl) {
                      return sl.logits_row < 0 || (sl.seq->plain_greedy() && !sl.logprobs);
                    });
  pending_rows_.clear();
  size_t row = 0;
  for (const RunSlice& sl : slices) {
    const Sequence& s = *sl.seq;
    const size_t from = static_cast<size_t>(s.n_computed());
    for (int i = 0; i < sl.n_tokens; ++i, ++row) {
      const size_t index = from + static_cast<size_t>(i);
      if (s.has_pending() && index + 1 == s.tokens().size()) pending_rows_.push_back({row, &s, index});
    }
  }
  model_.prepare_ahead(batch_, kv_, prepared_picks_);
  return true;
}

void ModelRunner::launch_ahead() {
  ahead_tokens_ = batch_.tokens;
  for (const PendingRow& p : pending_rows_) {
    // A sequence that ended meanwhile dropped its placeholder: its row computes nothing anyone reads.
    const auto& tokens = p.seq->tokens();
    ahead_tokens_[p.row] = p.index < tokens.size() && p.seq->state() != SequenceState::finished ? tokens[p.index] : 0;
  }
  model_.launch_ahead(ahead_tokens_);
  launched_picks_ = prepared_picks_;
}

StepRows ModelRunner::wait_ahead() {
  const model::LlamaModel::AheadRows rows = model_.wait_ahead();
  StepRows out;
  out.picked_on_device = launched_picks_;
  out.picks = rows.picks;
  out.logits = rows.logits;
  return out;
}

void ModelRunner::prepare_pending_masks(std::span<const RunSlice> slices) {
  // The baseline (masks after the pass): each draw computes its mask itself.
  if (!masks_while_computing_) return;
  const auto t = Clock::now();
  for (const RunSlice& sl : slices) {
    if (sl.advanced && sl.logits_row >= 0 && sl.seq->has_pending() && sl.seq->constrained()) {
      sl.seq->prepare_sampling();
    }
  }
  mask_ms_ += ms_since(t);
}

void ModelRunner::abandon_ahead() {
  model_.abandon_ahead();
  pending_rows_.clear();
}

}  // namespace rbees::engine
