#pragma once
// Test support: token ids of War and Peace (../shared/data/war-and-peace.txt, the text the embedded
// model learnt) for the tests that run the model past its 256-token training windows.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.hpp"

namespace rbees::model::testing {

inline const std::string kWarAndPeace = std::string(RBEES_SHARED_DIR) + "/data/war-and-peace.txt";

inline bool have_war_and_peace() {
  return std::filesystem::exists(kWarAndPeace);
}

// n ids of the book from character `offset` on, tokenized with the embedded model's tokenizer, BOS
// first. The file must exist (callers skip without it).
inline std::vector<int32_t> war_and_peace_ids(size_t offset, size_t n) {
  static const std::string book = [] {
    std::ifstream in(kWarAndPeace, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + kWarAndPeace);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }();
  static const tokenizer::Tokenizer tok =
      tokenizer::Tokenizer::load(std::string(RBEES_SOURCE_DIR) + "/models/wp-llama-5m");
  // English text takes about four characters a token; eight leaves room for odd stretches.
  if (offset + 8 * n > book.size()) throw std::out_of_range("War and Peace is shorter than asked for");
  std::vector<int32_t> ids = tok.encode(std::string_view(book).substr(offset, 8 * n), true);
  if (ids.size() < n) throw std::runtime_error("too few tokens in the asked-for stretch of War and Peace");
  ids.resize(n);
  return ids;
}

}  // namespace rbees::model::testing
