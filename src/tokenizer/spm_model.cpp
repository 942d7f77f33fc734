#include "tokenizer/spm_model.hpp"

#include "tokenizer/utf8.hpp"

#include <cstdio>
#include <queue>
#include <string>
#include <unordered_map>

namespace rbees::tokenizer {

SpmModel::SpmModel(std::shared_ptr<const Vocab> vocab, std::vector<float> scores, std::optional<int32_t> unk_id)
    : vocab_(std::move(vocab)), scores_(std::move(scores)), unk_id_(unk_id), byte_ids_(256, -1) {
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    if (auto id = vocab_->find(name)) byte_ids_[b] = *id;
  }
}

void SpmModel::encode(std::string_view text, std::vector<int32_t>& out) const {
  struct Symbol {
    size_t begin, len;
    int prev, next;
  };
  std::vector<Symbol> syms;
  for (size_t pos = 0; pos < text.size();) {
    size_t len = std::min(utf8::sequence_length(static_cast<unsigned char>(text[pos])), text.size() - pos);
    const int n = static_cast<int>(syms.size());
    syms.push_back({pos, len, n - 1, pos + len == text.size() ? -1 : n + 1});
    pos += len;
  }
  if (syms.empty()) return;

  struct Bigram {
    int left, right;
    float score;
    size_t size;
  };
  auto worse = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
  // Which two symbols formed each merged piece, to split pieces that are not tokens back apart.
  std::unordered_map<std::string_view, std::pair<int, int>> formed_from;

  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view piece = text.substr(syms[left].begin, syms[left].len + syms[right].len);
    auto id = vocab_->find(piece);
    if (!id || static_cast<size_t>(*id) >= scores_.size()) return;
    queue.push({left, right, scores_[static_cast<size_t>(*id)], piece.size()});
    formed_from[piece] = {left, right};
  };
  for (int i = 1; i < static_cast<int>(syms.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = syms[b.left];
    Symbol& r = syms[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  // Emits a symbol's piece: its token, else the two pieces it was merged from, else its bytes.
  auto emit = [&](auto&& self, size_t begin, size_t len) -> void {
    const std::string_view piece = text.substr(begin, len);
    if (auto id = vocab_->find(piece)) {
      out.push_back(*id);
      return;
    }
    auto it = formed_from.find(piece);
    if (it == formed_from.end()) {
      for (unsigned char c : piece) {
        if (byte_ids_[c] >= 0) {
          out.push_back(byte_ids_[c]);
        } else if (unk_id_) {
          out.push_back(*unk_id_);
        }
      }
      return;
    }
    const auto [a, b] = it->second;
    self(self, syms[a].begin, syms[b].begin - syms[a].begin);
    self(self, syms[b].begin, begin + len - syms[b].begin);
  };
  for (int i = 0; i >= 0; i = syms[i].next) emit(emit, syms[i].begin, syms[i].len);
}

}  // namespace rbees::tokenizer
