#pragma once
// A chat completion's text, as it is generated, split into content and tool calls written in the
// template's syntax (chat::parse_tool_calls). Text that may be the start of a call marker is held
// back until it is known not to be one; a call goes out once it is complete, with an id. Streaming
// and whole responses both go through this, so they agree.

#include "chat/tool_calls.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace rbees::server {

class ToolCallStream {
 public:
  // parallel false: only the first call is returned.
  ToolCallStream(chat::ToolCallFormat format, bool parallel);

  struct Output {
    std::string content;                // text released as content
    std::vector<chat::ToolCall> calls;  // calls completed by this text, each with its id
  };

  Output push(std::string_view text);
  // The end of the output: what was held back, as content unless it completed a call.
  Output finish();

  size_t call_count() const { return emitted_; }

 private:
  Output parse_calls(bool final);
  std::string new_id(const chat::ToolCall& call);

  chat::ToolCallFormat format_;
  bool parallel_;
  bool in_call_ = false;
  bool released_ = false;  // some content went out (Llama 3's bare JSON call must come first)
  std::string pending_;    // held back: may begin a marker
  std::string call_;       // from the marker on
  size_t emitted_ = 0;     // calls returned so far
};

}  // namespace rbees::server
