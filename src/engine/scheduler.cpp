#include "engine/scheduler.hpp"

#include <algorithm>
#include <stdexcept>

namespace rbees::engine {

Scheduler::Scheduler(int max_seqs, int prefill_chunk, int step_tokens)
    : max_seqs_(max_seqs), prefill_chunk_(prefill_chunk), step_tokens_(step_tokens) {
  if (max_seqs <= 0) throw std::invalid_argument("max_seqs must be positive");
  if (prefill_chunk <= 0) throw std::invalid_argument("prefill_chunk must be positive");
  if (step_tokens < 0) throw std::invalid_argument("step_tokens must not be negative");
  for (int32_t i = max_seqs - 1; i >= 0; --i) free_.push_back(i);
}

std::optional<int32_t> Scheduler::admit(Sequence& seq, int max_total, KvBudget& kv) {
  if (free_.empty()) return std::nullopt;
  auto slot = std::find(free_.begin(), free_.end(), kv.prefix_home(seq.tokens()));
  if (slot == free_.end()) slot = std::min_element(free_.begin(), free_.end());
  const int32_t id = *slot;
  const auto reused =
      kv.admit(id, std::span<const int32_t>(seq.tokens()).first(static_cast<size_t>(seq.n_to_prefill())), max_total,
               !seq.computes_whole_prompt());
  if (!reused) return std::nullopt;
  free_.erase(slot);
  seq.admit(id, *reused);
  return id;
}

void Scheduler::release(int32_t slot) {
  if (slot < 0 || slot >= max_seqs_ || std::find(free_.begin(), free_.end(), slot) != free_.end()) {
    throw std::logic_error("slot " + std::to_string(slot) + " released twice or out of range");
  }
  free_.push_back(slot);
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
