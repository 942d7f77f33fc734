#pragma once
// Byte-pair encoding by merge rank, as Hugging Face tokenizers' BPE model does it: the lowest-ranked
// adjacent pair merges first, leftmost on ties. Words are cached, since natural text repeats them.

#include "tokenizer/vocab.hpp"

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rbees::tokenizer {

class BpeModel : public Model {
 public:
  struct Options {
    bool byte_fallback = false;  // characters outside the vocabulary become <0xXX> byte tokens
    bool ignore_merges = false;  // a word that is itself a token is emitted whole
    bool fuse_unk = false;       // consecutive unknown characters become one unk token
    std::optional<int32_t> unk_id;
  };

  // merges: pairs of token strings, in rank order. Pairs naming tokens missing from the vocabulary
  // are skipped.
  BpeModel(std::shared_ptr<const Vocab> vocab, const std::vector<std::pair<std::string, std::string>>& merges,
           Options opts);

  void encode(std::string_view word, std::vector<int32_t>& out) const override;

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void encode_uncached(std::string_view word, std::vector<int32_t>& out) const;

  std::shared_ptr<const Vocab> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  Options opts_;
  std::vector<int32_t> byte_ids_;  // <0xXX> token ids (-1 where absent), for byte fallback

  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace rbees::tokenizer
