#include "tokenizer/streaming_detokenizer.hpp"

#include "tokenizer/utf8.hpp"

namespace rbees::tokenizer {

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(tokenizer), skip_special_(skip_special) {
  auto [content, count] = tokenizer_.leading_strip();
  strip_content_ = std::move(content);
  strip_left_ = strip_content_.empty() ? 0 : count;
}

std::string StreamingDetokenizer::push(int32_t id) {
  std::string bytes = tokenizer_.token_bytes(id, skip_special_);
  if (strip_left_ > 0 && !bytes.empty()) {
    size_t cut = 0;
    while (strip_left_ > 0 && bytes.compare(cut, strip_content_.size(), strip_content_) == 0) {
      cut += strip_content_.size();
      --strip_left_;
    }
    bytes.erase(0, cut);
    // Stripping applies to the start of the text only: once anything else is seen it is over.
    if (!bytes.empty()) strip_left_ = 0;
  }
  pending_ += bytes;

  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    auto r = utf8::check_sequence(std::string_view(pending_).substr(i));
    if (r.state == utf8::SequenceCheck::State::incomplete) break;
    if (r.state == utf8::SequenceCheck::State::valid) {
      out.append(pending_, i, r.length);
    } else {
      out += utf8::kReplacementChar;
    }
    i += r.length;
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamingDetokenizer::finish() {
  std::string out = utf8::to_valid_lossy(pending_);
  pending_.clear();
  auto [content, count] = tokenizer_.leading_strip();
  strip_left_ = content.empty() ? 0 : count;
  return out;
}

}  // namespace rbees::tokenizer
