#include "app/perplexity_command.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "core/log.hpp"
#include "engine/model_runtime.hpp"
#include "engine/perplexity.hpp"

namespace rbees::app {

namespace {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot open --file " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::invalid_argument("cannot read --file " + path);
  return text;
}

}  // namespace

CLI::App* add_perplexity_command(CLI::App& app, PerplexityOptions& o) {
  auto* cmd = app.add_subcommand(
      "perplexity",
      "Perplexity of a model over a text file, by llama-perplexity's method: the text cut into --ctx-size windows, "
      "the second half of each scored");
  cmd->add_option("--model,-m", o.model, "A Hugging Face directory or a GGUF file (default: the embedded model)");
  cmd->add_option("--file,-f", o.file, "The text to score (at least 2 * --ctx-size tokens)")->required();
  cmd->add_option("--ctx-size,-c", o.ctx_size, "Window length in tokens (at most the model's context)")
      ->check(CLI::Range(2, 1 << 24))
      ->default_val(512);
  cmd->add_option("--chunks", o.chunks, "Windows to score at most (-1: every whole window of the text)")
      ->check(CLI::Range(-1, 1 << 30))
      ->default_val(-1);
  cmd->add_option("--batch-size,-b", o.batch_size, "Tokens per forward pass; longer windows take several")
      ->check(CLI::PositiveNumber)
      ->default_val(2048);
  add_common_options(*cmd, o.common);
  add_split_options(*cmd, o.common);
  return cmd;
}

int run_perplexity(const PerplexityOptions& o) {
  if (o.chunks == 0) throw std::invalid_argument("--chunks must be positive or -1");
  const std::string text = read_text_file(o.file);
  apply_logging(o.common);
  auto rt = engine::ModelRuntime::load(runtime_options(o.model, o.common));

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> tokens = engine::perplexity_tokens(*rt, text);
  engine::PerplexityOptions po;
  po.n_ctx = o.ctx_size;
  po.n_chunks = o.chunks;
  po.n_batch = o.batch_size;
  // The running estimates as llama-perplexity prints them: "[1]x,[2]y," on one line.
  const engine::PerplexityResult res = engine::perplexity(*rt, tokens, po, [](int chunk, double ppl) {
    std::printf("[%d]%.4f,", chunk, ppl);
    std::fflush(stdout);
  });
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", res.ppl, res.ppl_error);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("perplexity_done", "perplexity computed",
            {{"text_tokens", res.n_text_tokens},
             {"chunks", res.n_chunks},
             {"scored_tokens", static_cast<long long>(res.n_scored)},
             {"ctx_size", o.ctx_size},
             {"seconds", s}});
  return 0;
}

}  // namespace rbees::app
