#pragma once
// A model's Jinja chat template, rendered the way transformers' apply_chat_template does
// (jinja2 with trim_blocks and lstrip_blocks; raise_exception and strftime_now as globals;
// `tojson` without key sorting or HTML escaping).

#include "chat/template_error.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

namespace rbees::chat {

struct Date {
  int year;
  int month;  // 1..12
  int day;    // 1..31
};

struct RenderOptions {
  bool add_generation_prompt = true;
  std::string bos_token;
  std::string eos_token;
  nlohmann::ordered_json tools = nullptr;  // null: the template sees tools = None
  // Further variables (e.g. {"enable_thinking": false}); they override the ones above.
  nlohmann::ordered_json extra_context = nlohmann::ordered_json::object();
  // strftime_now() uses this date at 00:00:00 when set, else the current local time.
  std::optional<Date> date;
  size_t max_output_bytes = 16u << 20;
};

class ChatTemplate {
 public:
  // Parses the template; throws TemplateError on a syntax error.
  explicit ChatTemplate(std::string source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // Renders `messages` (a JSON array of {role, content, ...}); throws TemplateError. Thread-safe.
  std::string render(const nlohmann::ordered_json& messages, const RenderOptions& opts) const;

  // Renders with exactly the variables of `context` (an object) plus the globals.
  std::string render_context(const nlohmann::ordered_json& context, const RenderOptions& opts) const;

  const std::string& source() const { return source_; }

 private:
  struct Parsed;
  std::string source_;
  std::unique_ptr<Parsed> parsed_;
};

}  // namespace rbees::chat
