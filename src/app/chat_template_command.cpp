#include "app/chat_template_command.hpp"

#include "app/default_model.hpp"
#include "chat/chat_template.hpp"
#include "chat/model_template.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <stdexcept>

namespace rbees::app {
namespace {

chat::Date parse_date(const std::string& text) {
  int y = 0, m = 0, d = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || text.size() != 10 || m < 1 || m > 12 ||
      d < 1 || d > 31) {
    throw std::invalid_argument("--date must be YYYY-MM-DD, got '" + text + "'");
  }
  return {y, m, d};
}

}  // namespace

CLI::App* add_chat_template_command(CLI::App& app, ChatTemplateOptions& opts) {
  auto* cmd = app.add_subcommand("chat-template",
                                 "Render the model's chat template for a JSON array of messages read from stdin");
  cmd->add_option("--model,-m", opts.model,
                  "Model: a Hugging Face directory or a GGUF file (default: the embedded model)");
  cmd->add_flag("--no-generation-prompt", opts.no_generation_prompt,
                "Do not end with the assistant turn's opening (add_generation_prompt=False)");
  cmd->add_option("--date", opts.date, "Date for strftime_now, YYYY-MM-DD (default: today)");
  add_common_options(*cmd, opts.common);
  return cmd;
}

int run_chat_template(const ChatTemplateOptions& opts) {
  apply_logging(opts.common);
  const std::string model = opts.model.empty() ? default_model_path().string() : opts.model;

  chat::RenderOptions render;
  render.add_generation_prompt = !opts.no_generation_prompt;
  if (!opts.date.empty()) render.date = parse_date(opts.date);

  const std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  nlohmann::ordered_json messages;
  try {
    messages = nlohmann::ordered_json::parse(input);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::invalid_argument(std::string("stdin is not valid JSON: ") + e.what());
  }
  if (!messages.is_array()) throw std::invalid_argument("stdin must be a JSON array of messages");

  const std::optional<std::string> source = chat::find_chat_template(model);
  if (!source) {
    std::cerr << "rbees-workerd: the model has no chat template: " << model << "\n";
    return 1;
  }
  const chat::SpecialTokenTexts tokens = chat::find_special_token_texts(model);
  render.bos_token = tokens.bos;
  render.eos_token = tokens.eos;

  std::string out;
  try {
    out = chat::ChatTemplate(*source).render(messages, render);
  } catch (const chat::TemplateError& e) {
    std::cerr << "rbees-workerd: chat template error: " << e.what() << "\n";
    return 1;
  }
  std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
  std::cout.flush();
  return std::cout ? 0 : 1;
}

}  // namespace rbees::app
