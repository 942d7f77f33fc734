#pragma once
// OpenAI-compatible request bodies (/v1/completions, /v1/chat/completions) and llama-server's
// /tokenize and /detokenize, parsed and validated. Errors render with openai_error_body().

#include "engine/request.hpp"
#include "server/tool_request.hpp"
#include "server/validation.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rbees::server {

struct OpenAiRequest {
  // Every field but the prompt, for each of the jobs the request makes; job_id left empty: the
  // server names the completion.
  engine::Request request;
  // The prompts, in order: a completion's batch, or the one chat conversation. Each gets n choices,
  // choice i of prompt p being choice p * n + i of the response.
  std::vector<engine::Prompt> prompts;
  int n = 1;
  std::optional<std::string> model;
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
  std::optional<ToolsRequest> tools;  // chat: when the request lists tools
};

// prompt: a string, a token-id array, or a batch: an array of strings or of token-id arrays.
// n >= 1; best_of, when given, must equal n.
Parsed<OpenAiRequest> parse_completion_request(std::string_view body);

// messages: [{role, content, name?}] where content is a string or an array of {"type":"text","text"}
// parts (flattened to a string) and role one of system, developer, user, assistant, tool; an
// assistant's tool_calls, a tool result's tool_call_id. logprobs (bool) with top_logprobs 0..20;
// add_generation_prompt and continue_final_message as vLLM takes them; tools, tool_choice,
// parallel_tool_calls.
Parsed<OpenAiRequest> parse_chat_completion_request(std::string_view body);

struct TokenizeRequest {
  std::string content;
  bool add_special = false;
};
Parsed<TokenizeRequest> parse_tokenize_request(std::string_view body);

struct DetokenizeRequest {
  std::vector<int32_t> tokens;
};
Parsed<DetokenizeRequest> parse_detokenize_request(std::string_view body);

}  // namespace rbees::server
