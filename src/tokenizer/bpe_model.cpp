#include "tokenizer/bpe_model.hpp"

#include "tokenizer/utf8.hpp"

#include <cstdio>
#include <mutex>
#include <queue>

namespace rbees::tokenizer {
namespace {

constexpr size_t kCacheLimit = 200000;  // entries; the cache is dropped whole when it fills
constexpr size_t kCachedWordMax = 256;  // bytes; longer "words" (unsplit SentencePiece text) rarely repeat

}  // namespace

BpeModel::BpeModel(std::shared_ptr<const Vocab> vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                   Options opts)
    : vocab_(std::move(vocab)), opts_(opts), byte_ids_(256, -1) {
  merges_.reserve(merges.size());
  int32_t rank = 0;
  for (const auto& [a, b] : merges) {
    auto ia = vocab_->find(a), ib = vocab_->find(b), ic = vocab_->find(a + b);
    if (ia && ib && ic) merges_.emplace(key(*ia, *ib), Merge{rank, *ic});
    ++rank;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    if (auto id = vocab_->find(name)) byte_ids_[b] = *id;
  }
}

void BpeModel::encode(std::string_view word, std::vector<int32_t>& out) const {
  if (opts_.ignore_merges) {
    if (auto id = vocab_->find(word)) {
      out.push_back(*id);
      return;
    }
  }
  {
    std::shared_lock lk(cache_mu_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  if (word.size() > kCachedWordMax) {
    encode_uncached(word, out);
    return;
  }
  std::vector<int32_t> ids;
  encode_uncached(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  std::unique_lock lk(cache_mu_);
  if (cache_.size() >= kCacheLimit) cache_.clear();
  cache_.emplace(std::string(word), std::move(ids));
}

void BpeModel::encode_uncached(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int prev, next;
    bool alive;
  };
  std::vector<Symbol> syms;
  syms.reserve(word.size());
  bool last_unk = false;
  auto push = [&](int32_t id) {
    const int n = static_cast<int>(syms.size());
    syms.push_back({id, n - 1, n + 1, true});
  };

  size_t pos = 0;
  while (pos < word.size()) {
    const size_t start = pos;
    size_t len = utf8::sequence_length(static_cast<unsigned char>(word[pos]));
    if (start + len > word.size()) len = word.size() - start;
    pos = start + len;
    const std::string_view ch = word.substr(start, len);
    if (auto id = vocab_->find(ch)) {
      push(*id);
      last_unk = false;
      continue;
    }
    if (opts_.byte_fallback) {
      bool all = true;
      for (unsigned char c : ch) all = all && byte_ids_[c] >= 0;
      if (all) {
        for (unsigned char c : ch) push(byte_ids_[c]);
        last_unk = false;
        continue;
      }
    }
    if (opts_.unk_id) {
      if (!(opts_.fuse_unk && last_unk)) push(*opts_.unk_id);
      last_unk = true;
    }
  }
  if (syms.empty()) return;
  syms.back().next = -1;

  struct Candidate {
    int32_t rank;
    int pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int left) {
    if (left < 0) return;
    const int right = syms[left].next;
    if (right < 0) return;
    auto it = merges_.find(key(syms[left].id, syms[right].id));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.new_id});
  };
  for (int i = 0; i + 1 < static_cast<int>(syms.size()); ++i) consider(i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = syms[c.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = syms[left.next];
    // Skip stale candidates: one side has merged since this pair was queued.
    auto it = merges_.find(key(left.id, right.id));
    if (it == merges_.end() || it->second.new_id != c.new_id) continue;
    left.id = c.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) syms[right.next].prev = c.pos;
    consider(left.prev);
    consider(c.pos);
  }
  for (int i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

}  // namespace rbees::tokenizer
