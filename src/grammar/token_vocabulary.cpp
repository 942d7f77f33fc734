#include "grammar/token_vocabulary.hpp"

#include "tokenizer/tokenizer.hpp"

namespace rbees::grammar {

std::shared_ptr<const TokenVocabulary> make_vocabulary(std::vector<std::string> token_bytes,
                                                       std::vector<int32_t> end_ids) {
  auto v = std::make_shared<TokenVocabulary>();
  std::vector<std::pair<std::string, int32_t>> entries;
  entries.reserve(token_bytes.size());
  for (size_t i = 0; i < token_bytes.size(); ++i) {
    if (!token_bytes[i].empty()) entries.emplace_back(token_bytes[i], static_cast<int32_t>(i));
  }
  v->trie = TokenTrie::build(std::move(entries));
  v->token_bytes = std::move(token_bytes);
  v->end_ids = std::move(end_ids);
  return v;
}

std::shared_ptr<const TokenVocabulary> make_vocabulary(const tokenizer::Tokenizer& tok) {
  std::vector<std::string> bytes(tok.vocab_size());
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = tok.token_bytes(static_cast<int32_t>(i), true);
  std::vector<int32_t> ends = tok.end_of_generation_ids();
  for (int32_t id : ends) {
    if (id >= 0 && static_cast<size_t>(id) < bytes.size()) bytes[static_cast<size_t>(id)].clear();
  }
  return make_vocabulary(std::move(bytes), std::move(ends));
}

}  // namespace rbees::grammar
