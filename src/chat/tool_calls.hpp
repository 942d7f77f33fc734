#pragma once
// Tool calls in a model's output, in the format its chat template teaches: Llama 3.1/3.2 (a JSON
// object {"name", "parameters"}, after <|python_tag|> or alone), Hermes / Qwen 2.5
// (<tool_call>{"name", "arguments"}</tool_call>, repeated) and Mistral ([TOOL_CALLS] and a JSON array
// of {"name", "arguments", "id"?}).

#include <string>
#include <string_view>
#include <vector>

namespace rbees::chat {

enum class ToolCallFormat { kNone, kLlama3, kHermes, kMistral };

// From the template's source: the markers each family's template writes.
ToolCallFormat detect_tool_call_format(std::string_view template_source);

struct ToolCall {
  std::string name;
  std::string arguments;  // a JSON object, as compact JSON text (OpenAI's `arguments` string)
  std::string id;         // when the model wrote one (Mistral), else empty
};

struct ParsedToolCalls {
  std::string content;          // the text outside the calls (before the first one)
  std::vector<ToolCall> calls;  // in order
  // The output began a call that it did not finish (cut short, or not valid JSON): calls holds
  // the complete ones before it, and content the whole text.
  bool incomplete = false;
  // Where the complete calls end in the text (0 when there are none): when incomplete, the text
  // from here on is what did not parse as a call.
  size_t calls_end = 0;
};

ParsedToolCalls parse_tool_calls(std::string_view text, ToolCallFormat format);

}  // namespace rbees::chat
