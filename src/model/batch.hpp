#pragma once
// A batch of tokens for one forward pass. Tokens may belong to different sequences and sit at
// different positions; each token is written to its own KV-cache cell and attends to the cells of
// its own sequence at positions up to its own. A batch longer than the model's max_graph_tokens
// runs as several graphs in batch order, so within a sequence, list positions in increasing order.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rbees::model {

struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  std::vector<int32_t> seq_ids;
  // Which tokens get a logits row, in batch order. Empty means: only the last token.
  std::vector<bool> want_logits;

  void add(int32_t token, int32_t pos, int32_t seq, bool logits) {
    tokens.push_back(token);
    positions.push_back(pos);
    seq_ids.push_back(seq);
    want_logits.push_back(logits);
  }
  std::size_t size() const { return tokens.size(); }
  bool wants_logits(std::size_t i) const { return want_logits.empty() ? i + 1 == tokens.size() : want_logits[i]; }
};

}  // namespace rbees::model
