#pragma once
// SentencePiece-style merging by token score, as llama.cpp does for GGUF "llama" vocabularies: the
// adjacent pair whose concatenation is the highest-scoring token merges first, leftmost on ties; pieces
// that end up outside the vocabulary fall back to <0xXX> byte tokens.

#include "tokenizer/vocab.hpp"

#include <memory>
#include <optional>
#include <vector>

namespace rbees::tokenizer {

class SpmModel : public Model {
 public:
  SpmModel(std::shared_ptr<const Vocab> vocab, std::vector<float> scores, std::optional<int32_t> unk_id);

  // word: text with spaces already escaped to U+2581.
  void encode(std::string_view word, std::vector<int32_t>& out) const override;

 private:
  std::shared_ptr<const Vocab> vocab_;
  std::vector<float> scores_;
  std::optional<int32_t> unk_id_;
  std::vector<int32_t> byte_ids_;
};

}  // namespace rbees::tokenizer
