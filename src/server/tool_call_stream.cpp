#include "server/tool_call_stream.hpp"

#include <cctype>
#include <random>

namespace rbees::server {

namespace {

std::string_view marker_of(chat::ToolCallFormat format) {
  switch (format) {
    case chat::ToolCallFormat::kLlama3: return "<|python_tag|>";
    case chat::ToolCallFormat::kHermes: return "<tool_call>";
    case chat::ToolCallFormat::kMistral: return "[TOOL_CALLS]";
    case chat::ToolCallFormat::kNone: break;
  }
  return "";
}

// The length of the longest end of `text` that is a proper start of `marker`.
size_t partial_marker(std::string_view text, std::string_view marker) {
  for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n) {
    if (text.substr(text.size() - n) == marker.substr(0, n)) return n;
  }
  return 0;
}

std::string random_alnum(size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out(n, ' ');
  for (auto& c : out) c = kChars[rng() % (sizeof kChars - 1)];
  return out;
}

bool mistral_id(const std::string& id) {
  if (id.size() != 9) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

ToolCallStream::ToolCallStream(chat::ToolCallFormat format, bool parallel) : format_(format), parallel_(parallel) {}

std::string ToolCallStream::new_id(const chat::ToolCall& call) {
  // Mistral's template refuses any id but nine letters and digits when the call comes back.
  if (format_ == chat::ToolCallFormat::kMistral) return mistral_id(call.id) ? call.id : random_alnum(9);
  return "call_" + random_alnum(24);
}

ToolCallStream::Output ToolCallStream::parse_calls(bool final) {
  Output out;
  const auto parsed = chat::parse_tool_calls(call_, format_);
  if (!parsed.incomplete && parsed.calls.empty()) {
    // Llama 3's bare JSON that is not a call: content after all.
    out.content = std::move(call_);
    call_.clear();
    in_call_ = false;
    released_ = true;
    return out;
  }
  for (size_t k = emitted_; k < parsed.calls.size(); ++k) {
    if (!parallel_ && emitted_ > 0) break;
    chat::ToolCall call = parsed.calls[k];
    call.id = new_id(call);
    out.calls.push_back(std::move(call));
    ++emitted_;
  }
  if (final && parsed.incomplete) out.content = call_.substr(parsed.calls_end);
  return out;
}

ToolCallStream::Output ToolCallStream::push(std::string_view text) {
  if (in_call_) {
    call_ += text;
    return parse_calls(false);
  }
  pending_ += text;
  Output out;
  if (format_ == chat::ToolCallFormat::kLlama3 && !released_) {
    // Llama 3.1 writes a call to a client's function as bare JSON, as the whole output.
    const size_t i = pending_.find_first_not_of(" \t\r\n");
    if (i == std::string::npos) return out;
    if (pending_[i] == '{') {
      in_call_ = true;
      call_ = std::move(pending_);
      pending_.clear();
      return parse_calls(false);
    }
  }
  const std::string_view marker = marker_of(format_);
  const size_t at = pending_.find(marker);
  if (at != std::string::npos) {
    out.content = pending_.substr(0, at);
    in_call_ = true;
    call_ = pending_.substr(at);
    pending_.clear();
    Output calls = parse_calls(false);
    out.content += calls.content;
    out.calls = std::move(calls.calls);
  } else {
    const size_t keep = partial_marker(pending_, marker);
    out.content = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
  }
  released_ |= !out.content.empty();
  return out;
}

ToolCallStream::Output ToolCallStream::finish() {
  if (in_call_) return parse_calls(true);
  Output out;
  out.content = std::move(pending_);
  pending_.clear();
  return out;
}

}  // namespace rbees::server
