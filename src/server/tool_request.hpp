#pragma once
// OpenAI's tool fields on /v1/chat/completions: `tools` (functions with JSON Schema parameters),
// `tool_choice` and `parallel_tool_calls`, and the tool parts of messages (an assistant's
// `tool_calls`, a tool result's `tool_call_id`), validated. Every field in error is named, down to
// `tools[0].function.parameters` for a schema keyword the grammar engine does not support.

#include "chat/tool_calls.hpp"
#include "server/validation.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace rbees::server {

enum class ToolChoiceMode { kNone, kAuto, kRequired, kFunction };

struct ToolsRequest {
  nlohmann::ordered_json tools = nullptr;  // the request's array, keys in the client's order; null: none
  ToolChoiceMode choice = ToolChoiceMode::kAuto;
  std::string function;  // kFunction: the function's name
  bool parallel = true;  // parallel_tool_calls
};

// Reads tools, tool_choice and parallel_tool_calls; nullopt when the request names no tools (a
// tool_choice that needs tools is then an error). `body` is the request again, for key order.
std::optional<ToolsRequest> read_tool_fields(FieldReader& r, std::string_view body);

// An assistant message's `tool_calls` (ordered, arguments parsed into objects, as templates
// expect); `prefix` is the message's field name ("messages[2]"). Records errors.
nlohmann::ordered_json read_message_tool_calls(const nlohmann::json& calls, const std::string& prefix,
                                               FieldErrors& errors);

// The GBNF that makes the model write a call in the template's syntax, to a function the choice
// allows, with arguments valid under that function's parameters; nullopt when the choice leaves
// the model free (auto, none).
std::optional<std::string> tool_call_grammar(const ToolsRequest& tools, chat::ToolCallFormat format);

}  // namespace rbees::server
