#include "tokenizer/added_tokens.hpp"

#include <algorithm>
#include <cctype>

namespace rbees::tokenizer {
namespace {

bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_word_byte(unsigned char c) {
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)), by_first_byte_(256) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (!tokens_[i].content.empty()) by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(),
                     [&](size_t a, size_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
  }
}

std::vector<Segment> AddedTokenMatcher::split(std::string_view text, bool parse_special) const {
  std::vector<Segment> out;
  size_t text_start = 0;  // start of the pending plain text
  size_t pos = 0;
  auto flush_text = [&](size_t end) {
    if (end > text_start) out.push_back({text.substr(text_start, end - text_start), -1});
  };
  while (pos < text.size() && !tokens_.empty()) {
    const AddedToken* hit = nullptr;
    for (size_t i : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& t = tokens_[i];
      if (t.special && !parse_special) continue;
      if (text.compare(pos, t.content.size(), t.content) != 0) continue;
      if (t.single_word) {
        const bool left_ok = pos == 0 || !is_word_byte(static_cast<unsigned char>(text[pos - 1]));
        const size_t end = pos + t.content.size();
        const bool right_ok = end == text.size() || !is_word_byte(static_cast<unsigned char>(text[end]));
        if (!left_ok || !right_ok) continue;
      }
      hit = &t;
      break;
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    size_t text_end = pos;
    if (hit->lstrip) {
      while (text_end > text_start && is_space(static_cast<unsigned char>(text[text_end - 1]))) --text_end;
    }
    flush_text(text_end);
    out.push_back({text.substr(pos, hit->content.size()), hit->id});
    pos += hit->content.size();
    if (hit->rstrip) {
      while (pos < text.size() && is_space(static_cast<unsigned char>(text[pos]))) ++pos;
    }
    text_start = pos;
  }
  flush_text(text.size());
  return out;
}

}  // namespace rbees::tokenizer
