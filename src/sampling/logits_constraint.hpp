#pragma once
// A per-sequence restriction of which tokens may come next (a grammar, a JSON schema), consulted by
// the Sampler before every other step and advanced by every token the sequence takes.

#include <cstdint>
#include <span>

namespace rbees::sampling {

class LogitsConstraint {
 public:
  virtual ~LogitsConstraint() = default;
  // Bit t of word t / 64 is set when token t may come next; valid until the next accept().
  virtual std::span<const uint64_t> allowed() = 0;
  // Advances by the token taken; false when the constraint does not allow it.
  virtual bool accept(int32_t id) = 0;
};

// Sets every logit whose token is not allowed to -infinity.
void apply_constraint_mask(std::span<float> logits, std::span<const uint64_t> allowed);

// The greedy choice over the masked logits without writing them: the same id as std::max_element
// over a copy passed through apply_constraint_mask (the first greatest; 0 when nothing beats a
// disallowed token 0's -infinity).
int32_t constrained_argmax(std::span<const float> logits, std::span<const uint64_t> allowed);

}  // namespace rbees::sampling
