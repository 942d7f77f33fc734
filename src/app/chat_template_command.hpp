#pragma once
// `chat-template`: renders the model's chat template for a JSON array of messages read from stdin and
// writes exactly the rendered bytes to stdout.

#include "app/common_options.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace rbees::app {

struct ChatTemplateOptions {
  CommonOptions common;
  std::string model;  // empty: the embedded default model
  bool no_generation_prompt = false;
  std::string date;  // YYYY-MM-DD for strftime_now; empty: today
};

CLI::App* add_chat_template_command(CLI::App& app, ChatTemplateOptions& opts);
int run_chat_template(const ChatTemplateOptions& opts);

}  // namespace rbees::app
