#include "app/tokenize_command.hpp"

#include "app/default_model.hpp"
#include "core/log.hpp"
#include "tokenizer/tokenizer.hpp"

#include <pthread.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace rbees::app {

CLI::App* add_tokenize_command(CLI::App& app, TokenizeOptions& opts) {
  auto* cmd = app.add_subcommand("tokenize",
                                 "Tokenize a JSON array of strings read from stdin; writes a JSON array of id arrays");
  cmd->add_option("--tokenizer", opts.tokenizer,
                  "tokenizer.json, model directory or GGUF file (default: the embedded model)");
  cmd->add_flag("--no-special", opts.no_special, "Do not run the post-processor (no BOS/EOS added)");
  cmd->add_flag("--decode", opts.decode,
                "Decode instead: read a JSON array of id arrays, write a JSON array of strings (special tokens kept)");
  add_common_options(*cmd, opts.common);
  return cmd;
}

int run_tokenize(const TokenizeOptions& opts) {
  // A one-shot filter: SIGINT/SIGTERM should end it the ordinary way, not wait for a watcher thread.
  sigset_t termination;
  sigemptyset(&termination);
  sigaddset(&termination, SIGINT);
  sigaddset(&termination, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &termination, nullptr);

  apply_logging(opts.common);
  const std::string path = opts.tokenizer.empty() ? default_model_path().string() : opts.tokenizer;
  const auto tok = tokenizer::Tokenizer::load(path);
  log::debug("tokenizer_loaded", "tokenizer loaded",
             {{"path", path}, {"kind", tok.kind()}, {"vocab_size", tok.vocab_size()}});

  std::ostringstream stdin_text;
  stdin_text << std::cin.rdbuf();
  nlohmann::json input;
  try {
    input = nlohmann::json::parse(stdin_text.str());
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("stdin is not valid JSON: ") + e.what());
  }
  if (!input.is_array()) throw std::invalid_argument("stdin must hold a JSON array");

  nlohmann::json output = nlohmann::json::array();
  size_t bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& item : input) {
    if (opts.decode) {
      if (!item.is_array()) throw std::invalid_argument("--decode expects a JSON array of id arrays");
      output.push_back(tok.decode(item.get<std::vector<int32_t>>(), false));
    } else {
      if (!item.is_string()) throw std::invalid_argument("tokenize expects a JSON array of strings");
      const auto& text = item.get_ref<const std::string&>();
      bytes += text.size();
      output.push_back(tok.encode(text, !opts.no_special));
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log::debug("tokenize_done", opts.decode ? "decoded" : "encoded",
             {{"items", input.size()}, {"text_bytes", bytes}, {"seconds", seconds}});
  std::cout << output.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}

}  // namespace rbees::app
