// The chat-template engine: the input is a template, rendered with fixed messages, tools and extra
// variables (so loops, filters, tests and methods have real data to work on).
#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/chat_template.hpp"

namespace {

const nlohmann::ordered_json& messages() {
  static const auto m = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi there \u00e9\u4e2d"},
    {"role": "assistant", "content": "Hello.", "tool_calls": [{"type": "function",
      "function": {"name": "get", "arguments": {"x": 1, "y": [true, null, 2.5]}}}]},
    {"role": "tool", "content": "{\"ok\": true}"},
    {"role": "user", "content": [{"type": "text", "text": "part"}]}
  ])");
  return m;
}

rbees::chat::RenderOptions options() {
  rbees::chat::RenderOptions o;
  o.bos_token = "<s>";
  o.eos_token = "</s>";
  o.tools = nlohmann::ordered_json::parse(
      R"([{"type": "function", "function": {"name": "get", "parameters": {"type": "object"}}}])");
  o.extra_context = {{"enable_thinking", false}};
  o.date = rbees::chat::Date{2024, 7, 26};
  o.max_output_bytes = 1u << 20;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rbees::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto opts = options();
  try {
    rbees::chat::ChatTemplate tmpl(std::string(reinterpret_cast<const char*>(data), size));
    (void)tmpl.render(messages(), opts);
  } catch (const rbees::chat::TemplateError&) {
  }
  return 0;
}
