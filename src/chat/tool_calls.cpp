#include "chat/tool_calls.hpp"

#include <nlohmann/json.hpp>

#include <optional>

namespace rbees::chat {

namespace {

using Json = nlohmann::ordered_json;

// The end (one past) of the JSON object or array starting at `start`, found by bracket depth outside
// strings; npos when the text ends first.
size_t json_end(std::string_view s, size_t start) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = start; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  return i;
}

// {"name": ..., "arguments"|"parameters": {...}, "id"?: ...} -> a call; nullopt for another shape.
std::optional<ToolCall> to_call(const Json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return std::nullopt;
  ToolCall call;
  call.name = j["name"].get<std::string>();
  const char* key = j.contains("arguments") ? "arguments" : "parameters";
  if (!j.contains(key)) {
    call.arguments = "{}";
  } else if (j[key].is_object()) {
    call.arguments = j[key].dump();
  } else if (j[key].is_string()) {  // some models write the arguments as a JSON string
    try {
      call.arguments = Json::parse(j[key].get<std::string>()).dump();
    } catch (const std::exception&) {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (j.contains("id") && j["id"].is_string()) call.id = j["id"].get<std::string>();
  return call;
}

// One JSON value at `i`: parsed, with its end; nullopt when cut short or malformed.
std::optional<std::pair<Json, size_t>> json_at(std::string_view s, size_t i) {
  const size_t end = json_end(s, i);
  if (end == std::string_view::npos) return std::nullopt;
  try {
    return std::pair{Json::parse(s.substr(i, end - i)), end};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

ParsedToolCalls incomplete(std::string_view text, std::vector<ToolCall> calls, size_t calls_end) {
  return {std::string(text), std::move(calls), true, calls_end};
}

ParsedToolCalls parse_llama3(std::string_view text) {
  size_t i = skip_space(text, 0);
  constexpr std::string_view kTag = "<|python_tag|>";
  const bool tagged = text.substr(i, kTag.size()) == kTag;
  if (tagged) i = skip_space(text, i + kTag.size());
  // Without the tag, only an output that is a call object and nothing else counts as a call.
  if (i >= text.size() || text[i] != '{')
    return tagged ? incomplete(text, {}, 0) : ParsedToolCalls{std::string(text), {}, false};
  std::vector<ToolCall> calls;
  size_t end = 0;
  while (i < text.size()) {
    auto value = json_at(text, i);
    if (!value) return incomplete(text, std::move(calls), end);
    auto call = to_call(value->first);
    if (!call)
      return tagged || !calls.empty() ? incomplete(text, std::move(calls), end)
                                      : ParsedToolCalls{std::string(text), {}, false};
    calls.push_back(std::move(*call));
    end = value->second;
    i = skip_space(text, value->second);
    if (i < text.size() && text[i] == ';') i = skip_space(text, i + 1);
    if (i < text.size() && text[i] != '{') return incomplete(text, std::move(calls), end);
  }
  return {"", std::move(calls), false, text.size()};
}

ParsedToolCalls parse_hermes(std::string_view text) {
  constexpr std::string_view kOpen = "<tool_call>", kClose = "</tool_call>";
  size_t start = text.find(kOpen);
  if (start == std::string_view::npos) return {std::string(text), {}, false};
  ParsedToolCalls out;
  out.content = std::string(text.substr(0, start));
  while (start != std::string_view::npos) {
    const size_t i = skip_space(text, start + kOpen.size());
    auto value = json_at(text, i);
    const size_t close = value ? skip_space(text, value->second) : std::string_view::npos;
    if (!value || text.substr(close, kClose.size()) != kClose)
      return incomplete(text, std::move(out.calls), out.calls_end);
    auto call = to_call(value->first);
    if (!call) return incomplete(text, std::move(out.calls), out.calls_end);
    out.calls.push_back(std::move(*call));
    out.calls_end = close + kClose.size();
    const size_t next = skip_space(text, close + kClose.size());
    if (next >= text.size()) break;
    if (text.substr(next, kOpen.size()) != kOpen) return incomplete(text, std::move(out.calls), out.calls_end);
    start = next;
  }
  // Content after the calls would be lost from the message: keep only a trailing blank.
  while (!out.content.empty() && (out.content.back() == '\n' || out.content.back() == ' ')) out.content.pop_back();
  return out;
}

ParsedToolCalls parse_mistral(std::string_view text) {
  constexpr std::string_view kTag = "[TOOL_CALLS]";
  const size_t tag = text.find(kTag);
  if (tag == std::string_view::npos) return {std::string(text), {}, false};
  ParsedToolCalls out;
  out.content = std::string(text.substr(0, tag));
  const size_t i = skip_space(text, tag + kTag.size());
  if (i >= text.size() || text[i] != '[') return incomplete(text, {}, 0);
  auto value = json_at(text, i);
  // The calls are one array: none of them counts until it is complete.
  if (!value || skip_space(text, value->second) != text.size()) return incomplete(text, {}, 0);
  for (const auto& item : value->first) {
    auto call = to_call(item);
    if (!call) return incomplete(text, {}, 0);
    out.calls.push_back(std::move(*call));
  }
  out.calls_end = text.size();
  return out;
}

}  // namespace

ToolCallFormat detect_tool_call_format(std::string_view source) {
  if (source.find("[TOOL_CALLS]") != std::string_view::npos) return ToolCallFormat::kMistral;
  if (source.find("<tool_call>") != std::string_view::npos) return ToolCallFormat::kHermes;
  if (source.find("<|python_tag|>") != std::string_view::npos || source.find("ipython") != std::string_view::npos) {
    return ToolCallFormat::kLlama3;
  }
  return ToolCallFormat::kNone;
}

ParsedToolCalls parse_tool_calls(std::string_view text, ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kLlama3: return parse_llama3(text);
    case ToolCallFormat::kHermes: return parse_hermes(text);
    case ToolCallFormat::kMistral: return parse_mistral(text);
    case ToolCallFormat::kNone: break;
  }
  return {std::string(text), {}, false};
}

}  // namespace rbees::chat
