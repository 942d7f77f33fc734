#pragma once
// Carries a step's plan out through the model: the batch (each slice's next tokens from where its
// sequence stands, a logits row where it samples, every row of a prompt whose log-probabilities are
// asked for), the choice between the device's greedy pick and logits rows on the host, the
// constrained rows' allowed-token bitsets for the pick, and the forward pass. It knows sequences,
// not requests or clients: what the rows become (tokens, events) is BatchEngine's output stage.

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "engine/sequence.hpp"
#include "model/batch.hpp"
#include "model/kv_cache.hpp"
#include "model/llama_model.hpp"

namespace rbees::engine {

// One sequence's share of a step, as the scheduler planned it; run() fills in its rows.
struct RunSlice {
  Sequence* seq = nullptr;
  int n_tokens = 0;
  bool sample = false;    // a token is chosen after the slice's last token
  bool logprobs = false;  // that token's log-probabilities are wanted: its logits row must come back
  int logits_row = -1;    // the row the token is chosen from, or -1
  int first_row = -1;     // a prompt's log-probabilities: the row of the slice's first token, or -1
  // Overlapped steps: the sequence was moved past this slice when its step was launched (its
  // tokens counted computed, a pending token in place of the one it samples).
  bool advanced = false;
};

// What a step's pass gives back: per row either the device's pick or the logits.
struct StepRows {
  bool picked_on_device = false;
  std::span<const int32_t> picks;  // one token id per row, when picked on the device
  std::span<const float> logits;   // n_rows x n_vocab, otherwise
};

class ModelRunner {
 public:
  // greedy_on_device: a step whose every sampling row is plain greedy (or greedy under a grammar's
  // mask) and wants no log-probabilities lets the graph pick the tokens. masks_while_computing: the
  // constrained rows' masks for host sampling are computed while the device runs the step.
  ModelRunner(model::LlamaModel& model, model::KvCache& kv, bool greedy_on_device, bool masks_while_computing);

  // Builds the step's batch from the slices (setting their rows) and runs the model over it.
  StepRows run(std::span<RunSlice> slices);

  // Overlapped steps (BatchEngine): a step with no prompt's every-row logits, whose batch fits one
  // graph, may be prepared while the step before it computes, some of its tokens still pending there
  // (Sequence::push_pending). prepare_ahead() builds the batch and
  // returns false (nothing done) where the step cannot; launch_ahead() reads the pending tokens,
  // filled in by then (Sequence::fill_pending or sample_pending), and launches it; wait_ahead() waits
  // for the launched step's rows: the device's picks where every sampling row is plain greedy with no
  // log-probabilities (and greedy_on_device), else logits rows, which stay valid until the step
  // after the next one is launched.
  bool prepare_ahead(std::span<RunSlice> slices);
  void launch_ahead();
  StepRows wait_ahead();
  // After a failure: the model's passes run ahead are forgotten.
  void abandon_ahead();
  // The grammar masks of the launched step's pending tokens, computed while the device computes it
  // (each grammar has taken the token before by then), so that the draws after the wait find them.
  void prepare_pending_masks(std::span<const RunSlice> slices);

  size_t batch_tokens() const { return batch_.size(); }
  int n_rows() const { return n_rows_; }
  // Engine-thread time spent on grammar masks (for the pick or ahead of host sampling), in total.
  double mask_ms() const { return mask_ms_; }
  bool greedy_on_device() const { return greedy_on_device_; }

 private:
  void build_batch(std::span<RunSlice> slices);
  static bool step_is_greedy(std::span<const RunSlice> slices);
  std::span<const uint64_t> greedy_row_masks(std::span<const RunSlice> slices);

  model::LlamaModel& model_;
  model::KvCache& kv_;
  bool greedy_on_device_;
  bool masks_while_computing_;
  model::Batch batch_;
  int n_rows_ = 0;
  // Of the batch prepared ahead: the rows whose token was pending, and whose it is.
  struct PendingRow {
    size_t row;
    const Sequence* seq;
    size_t index;  // in the sequence's tokens
  };
  std::vector<PendingRow> pending_rows_;
  std::vector<int32_t> ahead_tokens_;
  bool prepared_picks_ = false;  // the step prepared ahead is picked on the device
  bool launched_picks_ = false;  // ... the step launched
  double mask_ms_ = 0;
};

}  // namespace rbees::engine
