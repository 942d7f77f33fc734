#include "sampling/sampler.hpp"

#include "sampling/candidate_selection.hpp"
#include "sampling/row_weights.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace rbees::sampling {

namespace {

uint64_t fresh_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

// A draw's working memory, kept per thread: a row's copies (hundreds of KiB for a large vocabulary)
// would otherwise be mapped, faulted in and unmapped again for every token of every sequence.
struct Scratch {
  std::vector<float> adjusted;
  std::vector<Candidate> candidates;
  std::vector<float> kept;  // the candidates' logits after truncation
  RowWeights row;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

Sampler::Sampler(SamplingParams params, std::span<const int32_t> prompt)
    : params_(std::move(params)), seed_(params_.seed ? *params_.seed : fresh_seed()), rng_(seed_) {
  for (int32_t id : prompt) ++seen_[id];
}

void apply_constraint_mask(std::span<float> logits, std::span<const uint64_t> allowed) {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (size_t w = 0; w < allowed.size() && w * 64 < logits.size(); ++w) {
    uint64_t banned = ~allowed[w];
    while (banned != 0) {
      const size_t i = w * 64 + static_cast<size_t>(__builtin_ctzll(banned));
      if (i >= logits.size()) break;
      logits[i] = ninf;
      banned &= banned - 1;
    }
  }
  // Tokens past the mask (a vocabulary larger than the constraint's) are never allowed.
  for (size_t i = allowed.size() * 64; i < logits.size(); ++i) logits[i] = ninf;
}

int32_t constrained_argmax(std::span<const float> logits, std::span<const uint64_t> allowed) {
  if (logits.empty()) throw std::invalid_argument("empty logits row");
  auto is_allowed = [&](size_t i) { return i / 64 < allowed.size() && ((allowed[i / 64] >> (i % 64)) & 1) != 0; };
  size_t best = 0;
  float best_v = is_allowed(0) ? logits[0] : -std::numeric_limits<float>::infinity();
  // A banned token's -infinity never beats the best so far (the comparison is std::max_element's),
  // so only allowed tokens are visited, in order.
  const size_t words = std::min(allowed.size(), (logits.size() + 63) / 64);
  for (size_t w = 0; w < words; ++w) {
    const size_t base = w * 64;
    if (allowed[w] == ~0ull && base + 64 <= logits.size()) {
      for (size_t i = base; i < base + 64; ++i) {
        if (best_v < logits[i]) {
          best = i;
          best_v = logits[i];
        }
      }
      continue;
    }
    for (uint64_t bits = allowed[w]; bits != 0; bits &= bits - 1) {
      const size_t i = base + static_cast<size_t>(__builtin_ctzll(bits));
      if (i >= logits.size()) break;
      if (best_v < logits[i]) {
        best = i;
        best_v = logits[i];
      }
    }
  }
  return static_cast<int32_t>(best);
}

void Sampler::prepare() {
  if (constraint_) constraint_->allowed();
}

void Sampler::accept(int32_t id) {
  if (constraint_ && !constraint_->accept(id)) {
    throw std::logic_error("token " + std::to_string(id) + " is not allowed by the sequence's grammar");
  }
  ++seen_[id];
  ++generated_[id];
}

std::vector<float> Sampler::adjusted_logits(std::span<const float> logits) const {
  std::vector<float> out;
  adjust_into(logits, out);
  return out;
}

std::span<const float> Sampler::adjusted_or_row(std::span<const float> logits) const {
  // Nothing to adjust: the row is read in place (a copy is a vocabulary's worth of memory traffic).
  if (!constraint_ && !adjusts_logits()) return logits;
  std::vector<float>& adjusted = scratch().adjusted;
  adjust_into(logits, adjusted);
  return adjusted;
}

void Sampler::adjust_into(std::span<const float> logits, std::vector<float>& out) const {
  out.assign(logits.begin(), logits.end());
  if (constraint_) apply_constraint_mask(out, constraint_->allowed());
  apply_logit_bias(out, params_.logit_bias);
  apply_repetition_penalty(out, seen_, params_.repetition_penalty);
  apply_presence_frequency_penalty(out, generated_, params_.presence_penalty, params_.frequency_penalty);
}

// 53 random bits -> [0, 1), the same on every standard library (unlike std::uniform_real_distribution).
double Sampler::uniform01() {
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

int32_t Sampler::choose(std::span<const float> adjusted) {
  if (adjusted.empty()) throw std::invalid_argument("empty logits row");
  if (params_.temperature <= 0.0f) {
    return row_argmax(adjusted);
  }

  // No truncation (the OpenAI default): one draw over the whole row, with no candidate list.
  if (!truncates()) {
    RowWeights& row = scratch().row;
    if (!row.compute(adjusted, params_.temperature)) {
      return row_argmax(adjusted);
    }
    return row.draw(uniform01());
  }

  // The tokens at the temperature that the truncations may keep (banned ones, -inf, never), then the
  // truncations themselves over that short list: the same survivors as from the whole row.
  std::vector<Candidate>& candidates = scratch().candidates;
  const CandidateSelection selection = select_candidates(adjusted, params_, candidates);
  if (candidates.empty()) {
    return row_argmax(adjusted);
  }
  if (params_.top_k > 0) apply_top_k(candidates, params_.top_k);
  if (params_.top_p < 1.0f) apply_top_p(candidates, params_.top_p, selection.mass_left_out);
  if (params_.min_p > 0.0f) apply_min_p(candidates, params_.min_p);
  if (candidates.empty()) return row_argmax(adjusted);  // the transforms keep one; this is a backstop

  // The draw over what is left, as over a whole row (the logits are already at the temperature).
  std::vector<float>& kept = scratch().kept;
  kept.resize(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) kept[i] = candidates[i].logit;
  RowWeights& row = scratch().row;
  if (!row.compute(kept, 1.0f)) return candidates.front().id;
  return candidates[static_cast<size_t>(row.draw(uniform01()))].id;
}

bool Sampler::adjusts_logits() const {
  return !params_.logit_bias.empty() || params_.repetition_penalty != 1.0f || params_.presence_penalty != 0.0f ||
         params_.frequency_penalty != 0.0f;
}

bool Sampler::truncates() const {
  return params_.top_k > 0 || params_.top_p < 1.0f || params_.min_p > 0.0f;
}

bool Sampler::plain_greedy() const {
  return !constraint_ && params_.temperature <= 0.0f && !adjusts_logits();
}

bool Sampler::masked_greedy() const {
  return constraint_ && params_.temperature <= 0.0f && !adjusts_logits();
}

int32_t Sampler::sample(std::span<const float> logits) {
  // Greedy over unadjusted logits: the row is read in place (one pass, no copy), which matters when
  // many sequences sample every step.
  if (plain_greedy() && !logits.empty()) {
    const int32_t id = row_argmax(logits);
    accept(id);
    return id;
  }
  // Greedy under a mask alone: the argmax of the allowed logits, read in place as above.
  if (masked_greedy() && !logits.empty()) {
    const int32_t id = constrained_argmax(logits, constraint_->allowed());
    accept(id);
    return id;
  }
  const int32_t id = choose(adjusted_or_row(logits));
  accept(id);
  return id;
}

SampledToken Sampler::sample_with_logprobs(std::span<const float> logits, int32_t n_top) {
  const std::span<const float> adjusted = adjusted_or_row(logits);
  SampledToken out;
  out.id = choose(adjusted);
  const double lse = log_sum_exp(adjusted);
  out.logprob = token_logprob(adjusted, out.id, lse);
  if (n_top > 0) out.top = top_logprobs(adjusted, n_top, lse);
  accept(out.id);
  return out;
}

}  // namespace rbees::sampling
