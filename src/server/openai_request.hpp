#pragma once
// OpenAI-compatible request bodies (/v1/completions, /v1/chat/completions) and llama-server's
// /tokenize and /detokenize, parsed and validated. Errors render with openai_error_body().

#include "engine/request.hpp"
#include "server/validation.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rbees::server {

struct OpenAiRequest {
  engine::Request request;  // job_id left empty: the server names the completion
  std::optional<std::string> model;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

// prompt: string, token-id array, or a one-element array of either. n must be 1.
Parsed<OpenAiRequest> parse_completion_request(std::string_view body);

// messages: [{role, content}] where content is a string or an array of {"type":"text","text"} parts
// (flattened to a string). logprobs (bool) with top_logprobs 0..20.
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
