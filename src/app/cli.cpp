#include "app/cli.hpp"

#include "app/bench_command.hpp"
#include "app/chat_template_command.hpp"
#include "app/generate_command.hpp"
#include "app/perplexity_command.hpp"
#include "app/rpc_server_command.hpp"
#include "app/serve_command.hpp"
#include "app/signals.hpp"
#include "app/tokenize_command.hpp"
#include "core/build_info.hpp"
#include "core/log.hpp"

#include <ggml.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace rbees::app {
namespace {

std::string version_text() {
  return std::string("rbees-workerd ") + build::kVersion + "\nggml " + ggml_version() + " (" + ggml_commit() +
         ")\nbackends: " + build::kBackends + "\nbuild: " + build::kBuildType + "\n";
}

// "serve" is the default subcommand: a command line that names none gets it inserted.
std::vector<std::string> with_default_subcommand(int argc, char** argv, const CLI::App& app) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty()) {
    const std::string& first = args.front();
    if (first == "--help" || first == "-h" || first == "--version") return args;
    for (const auto* sub : app.get_subcommands({})) {
      if (sub->get_name() == first) return args;
    }
  }
  args.insert(args.begin(), "serve");
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  block_termination_signals();

  CLI::App app{"rbees-workerd: an inference worker for Llama-family models", "rbees-workerd"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1, 1);

  ServeOptions serve;
  auto* serve_cmd = add_serve_command(app, serve);
  ChatTemplateOptions chat_template;
  auto* chat_template_cmd = add_chat_template_command(app, chat_template);
  TokenizeOptions tokenize;
  auto* tokenize_cmd = add_tokenize_command(app, tokenize);
  GenerateOptions generate;
  auto* generate_cmd = add_generate_command(app, generate);
  BenchOptions bench;
  auto* bench_cmd = add_bench_command(app, bench);
  PerplexityOptions perplexity;
  auto* perplexity_cmd = add_perplexity_command(app, perplexity);
  RpcServerOptions rpc_server;
  auto* rpc_server_cmd = add_rpc_server_command(app, rpc_server);

  auto args = with_default_subcommand(argc, argv, app);
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion&) {
    std::cout << version_text();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "rbees-workerd: " << e.what() << " (see --help)\n";
    return 2;
  }

  try {
    if (serve_cmd->parsed()) return run_serve(serve);
    if (chat_template_cmd->parsed()) return run_chat_template(chat_template);
    if (tokenize_cmd->parsed()) return run_tokenize(tokenize);
    if (generate_cmd->parsed()) return run_generate(generate);
    if (bench_cmd->parsed()) return run_bench(bench);
    if (perplexity_cmd->parsed()) return run_perplexity(perplexity);
    if (rpc_server_cmd->parsed()) return run_rpc_server(rpc_server);
  } catch (const std::invalid_argument& e) {
    std::cerr << "rbees-workerd: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    log::error("fatal", e.what());
    return 1;
  }
  return 0;
}

}  // namespace rbees::app
