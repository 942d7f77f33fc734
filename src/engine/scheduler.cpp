#include "engine/scheduler.hpp"

#include <algorithm>
#include <stdexcept>

namespace rbees::engine {

Scheduler::Scheduler(int max_seqs, int prefill_chunk) : max_seqs_(max_seqs), prefill_chunk_(prefill_chunk) {
  if (max_seqs <= 0) throw std::invalid_argument("max_seqs must be positive");
  if (prefill_chunk <= 0) throw std::invalid_argument("prefill_chunk must be positive");
  for (int32_t i = max_seqs - 1; i >= 0; --i) free_.push_back(i);
}

std::optional<int32_t> Scheduler::admit(Sequence& seq, int max_total, KvBudget& kv) {
  if (free_.empty()) return std::nullopt;
  auto slot = std::find(free_.begin(), free_.end(), kv.prefix_home(seq.tokens()));
  if (slot == free_.end()) slot = std::min_element(free_.begin(), free_.end());
  const int32_t id = *slot;
  const auto reused = kv.admit(id, seq.tokens(), max_total);
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

std::vector<StepSlice> Scheduler::plan(std::span<const Sequence* const> running, const KvBudget& kv) const {
  std::vector<StepSlice> out;
  struct Decode {
    size_t index;
    int32_t slot;
    bool home;
  };
  std::vector<Decode> decodes;
  for (size_t i = 0; i < running.size(); ++i) {
    const Sequence& s = *running[i];
    if (s.state() == SequenceState::decoding) decodes.push_back({i, s.id(), kv.next_at_home(s.id())});
  }
  std::sort(decodes.begin(), decodes.end(),
            [](const Decode& a, const Decode& b) { return a.home != b.home ? a.home : a.slot < b.slot; });
  for (const Decode& d : decodes) out.push_back({d.index, 1, true});
  int budget = prefill_chunk_;
  for (size_t i = 0; i < running.size() && budget > 0; ++i) {
    const Sequence& s = *running[i];
    if (s.state() != SequenceState::prefilling) continue;
    const int take = std::min(budget, s.prompt_remaining());
    out.push_back({i, take, take == s.prompt_remaining()});
    budget -= take;
  }
  return out;
}

}  // namespace rbees::engine
