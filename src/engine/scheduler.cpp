#include "engine/scheduler.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace rbees::engine {

Scheduler::Scheduler(int max_seqs, int prefill_chunk, int step_tokens, bool reserve_runs)
    : max_seqs_(max_seqs), prefill_chunk_(prefill_chunk), step_tokens_(step_tokens), reserve_runs_(reserve_runs) {
  if (max_seqs <= 0) throw std::invalid_argument("max_seqs must be positive");
  if (prefill_chunk <= 0) throw std::invalid_argument("prefill_chunk must be positive");
  if (step_tokens < 0) throw std::invalid_argument("step_tokens must not be negative");
  span_.assign(static_cast<size_t>(max_seqs), 0);
  n_free_ = max_seqs;
}

bool Scheduler::run_free(int32_t slot, int span, const Sequence* who) const {
  if (slot < 0 || span < 1 || slot % span != 0 || slot + span > max_seqs_) return false;
  if (reserved_ >= 0 && who != reserved_for_ && slot < reserved_ + reserved_span_ && reserved_ < slot + span) {
    return false;
  }
  for (int32_t s = slot; s < slot + span; ++s) {
    if (span_[s] != 0) return false;
  }
  return true;
}

void Scheduler::reserve(int span, const Sequence* who) {
  int best = -1;
  int32_t at = -1;
  for (int32_t s = 0; s + span <= max_seqs_; s += span) {
    const int free = static_cast<int>(std::count(span_.begin() + s, span_.begin() + s + span, 0));
    if (free > best || (free == best && s == last_reserved_)) {
      best = free;
      at = s;
    }
  }
  reserved_ = at;
  reserved_span_ = span;
  reserved_for_ = who;
}

void Scheduler::begin_admission() {
  // Reserved anew each pass, so that a run stays reserved only while a request waits for it.
  last_reserved_ = reserved_;
  reserved_ = -1;
  reserved_span_ = 0;
  reserved_for_ = nullptr;
  waits_for_run_ = false;
}

std::optional<int32_t> Scheduler::admit(Sequence& seq, int max_total, KvBudget& kv) {
  waits_for_run_ = false;
  if (n_free_ == 0) return std::nullopt;
  const int span = std::max(1, kv.home_span_for(max_total));
  const bool spans = kv.home_span_for(std::numeric_limits<int>::max()) > 1;
  int32_t id = kv.prefix_home(seq.tokens());
  if (!run_free(id, span, &seq)) {
    id = -1;
    int32_t first_free = -1;
    // Homes of several slots are taken from the top down, one-slot homes from the bottom up: each
    // size's homes then lie in a range of their own, which its decode step attends over as one
    // batch of streams without striding over the other size's homes (KvAttention::plan_streams).
    const int32_t top = (max_seqs_ - span) / span * span;
    for (int32_t k = 0; k <= top && id < 0; k += span) {
      const int32_t s = span > 1 ? top - k : k;
      if (!run_free(s, span, &seq)) continue;
      // A one-slot request where homes span slots: a slot between busy ones cuts no free run.
      const bool between_busy = (s == 0 || span_[s - 1] != 0) && (s + 1 == max_seqs_ || span_[s + 1] != 0);
      if (span > 1 || !spans || between_busy) {
        id = s;
      } else if (first_free < 0) {
        first_free = s;
      }
    }
    if (id < 0) id = first_free;
  }
  if (id < 0) {
    // No free run of `span` slots yet: the first request of the pass that wants one reserves one,
    // later ones wait their turn; the requests behind them may take the slots left.
    if (span > 1 && reserve_runs_) {
      if (reserved_ < 0) reserve(span, &seq);
      waits_for_run_ = true;
    }
    return std::nullopt;
  }
  const auto reused =
      kv.admit(id, std::span<const int32_t>(seq.tokens()).first(static_cast<size_t>(seq.n_to_prefill())), max_total,
               !seq.computes_whole_prompt(), span);
  if (!reused) return std::nullopt;
  if (&seq == reserved_for_) {
    reserved_ = -1;
    reserved_for_ = nullptr;
  }
  span_[id] = span;
  for (int32_t s = id + 1; s < id + span; ++s) span_[s] = -1;
  n_free_ -= span;
  seq.admit(id, *reused);
  return id;
}

void Scheduler::release(int32_t slot) {
  if (slot < 0 || slot >= max_seqs_ || span_[slot] <= 0) {
    throw std::logic_error("slot " + std::to_string(slot) + " released twice or out of range");
  }
  const int span = span_[slot];
  for (int32_t s = slot; s < slot + span; ++s) span_[s] = 0;
  n_free_ += span;
}

Scheduler::Plan Scheduler::plan(std::span<Sequence* const> running, KvBudget& kv) {
  Plan out;
  std::vector<bool> gone(running.size(), false);
  auto preempt = [&](size_t j) {
    Sequence& v = *running[j];
    kv.release(v.id());
    release(v.id());
    v.preempt();
    gone[j] = true;
  };
  // Room for every decoding sequence's next token, the oldest first.
  for (size_t i = 0; i < running.size(); ++i) {
    Sequence& s = *running[i];
    if (gone[i] || s.state() != SequenceState::decoding) continue;
    while (!kv.grow(s.id(), s.n_computed() + 1)) {
      // The most recently admitted sequence still running (i itself at the latest).
      size_t victim = running.size() - 1;
      while (gone[victim]) --victim;
      preempt(victim);
      if (victim == i) break;
    }
  }
  for (size_t i = 0; i < running.size(); ++i) {
    if (gone[i]) out.preempted.push_back(i);
  }

  struct Decode {
    size_t index;
    int32_t slot;
    bool home;
  };
  std::vector<Decode> decodes;
  for (size_t i = 0; i < running.size(); ++i) {
    const Sequence& s = *running[i];
    if (!gone[i] && s.state() == SequenceState::decoding) decodes.push_back({i, s.id(), kv.next_at_home(s.id())});
  }
  std::sort(decodes.begin(), decodes.end(),
            [](const Decode& a, const Decode& b) { return a.home != b.home ? a.home : a.slot < b.slot; });
  for (const Decode& d : decodes) out.slices.push_back({d.index, 1, true});
  int budget = prefill_chunk_;
  if (step_tokens_ > 0) {
    const int room = step_tokens_ - static_cast<int>(decodes.size());
    budget = std::min(budget, std::max(room, std::max(1, step_tokens_ / 4)));
  }
  for (size_t i = 0; i < running.size() && budget > 0; ++i) {
    const Sequence& s = *running[i];
    if (gone[i] || s.state() != SequenceState::prefilling) continue;
    const int take = std::min(budget, s.prompt_remaining());
    out.slices.push_back({i, take, take == s.prompt_remaining() && s.samples_after_prefill()});
    budget -= take;
  }
  return out;
}

}  // namespace rbees::engine
