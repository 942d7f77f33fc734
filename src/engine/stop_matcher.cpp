#include "engine/stop_matcher.hpp"

#include <algorithm>

namespace rbees::engine {

size_t partial_stop_suffix(std::string_view text, std::string_view stop) {
  const size_t longest = std::min(text.size(), stop.empty() ? 0 : stop.size() - 1);
  for (size_t n = longest; n > 0; --n) {
    if (text.substr(text.size() - n) == stop.substr(0, n)) return n;
  }
  return 0;
}

size_t complete_utf8_prefix(std::string_view text) {
  // Look back at most three bytes for the lead byte of the last character.
  const size_t n = text.size();
  for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
    const auto c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t need = 1;
    if ((c & 0xE0) == 0xC0)
      need = 2;
    else if ((c & 0xF0) == 0xE0)
      need = 3;
    else if ((c & 0xF8) == 0xF0)
      need = 4;
    return back < need ? n - back : n;
  }
  return n;  // no lead byte nearby: not ours to repair, pass it on
}

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

StopMatcher::Result StopMatcher::feed(std::string_view piece) {
  Result out;
  if (stopped_) return out;
  buffer_.append(piece);

  // The earliest complete stop string wins; at an equal start, the one listed first.
  size_t best_pos = std::string::npos;
  for (size_t i = 0; i < stops_.size(); ++i) {
    if (stops_[i].empty()) continue;
    const size_t pos = buffer_.find(stops_[i]);
    if (pos != std::string::npos && pos < best_pos) {
      best_pos = pos;
      out.matched = i;
    }
  }
  if (out.matched) {
    out.text = buffer_.substr(0, best_pos);
    buffer_.clear();
    stopped_ = true;
    return out;
  }

  size_t hold = 0;
  for (const auto& stop : stops_) hold = std::max(hold, partial_stop_suffix(buffer_, stop));
  const size_t emit = complete_utf8_prefix(std::string_view(buffer_).substr(0, buffer_.size() - hold));
  out.text = buffer_.substr(0, emit);
  buffer_.erase(0, emit);
  return out;
}

std::string StopMatcher::flush() {
  std::string out;
  out.swap(buffer_);
  return out;
}

}  // namespace rbees::engine
