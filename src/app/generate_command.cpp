#include "app/generate_command.hpp"

#include <cstdio>
#include <string_view>

#include "core/log.hpp"
#include "engine/generator.hpp"
#include "engine/model_runtime.hpp"
#include "engine/prompt.hpp"

namespace rbees::app {

CLI::App* add_generate_command(CLI::App& app, GenerateOptions& o) {
  auto* cmd = app.add_subcommand("generate", "Generate a continuation of one prompt and stream it to stdout");
  cmd->add_option("--model,-m", o.model, "A Hugging Face directory or a GGUF file (default: the embedded model)");
  cmd->add_option("--prompt,-p", o.prompt, "Raw prompt text (BOS added as the tokenizer says)")->required();
  cmd->add_option("--max-tokens,-n", o.max_tokens, "Tokens to generate at most (default: until the context is full)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", o.temperature, "0 picks the most likely token (greedy)")
      ->check(CLI::Range(0.0f, 2.0f))
      ->default_val(1.0f);
  cmd->add_option("--seed", o.seed, "Seed of the random stream (default: random)");
  cmd->add_option("--top-k", o.top_k, "Keep the k most likely tokens (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->default_val(0);
  cmd->add_option("--top-p", o.top_p, "Nucleus sampling mass (1: off)")
      ->check(CLI::Range(0.0f, 1.0f))
      ->default_val(1.0f);
  cmd->add_option("--min-p", o.min_p, "Drop tokens below min-p times the top probability (0: off)")
      ->check(CLI::Range(0.0f, 1.0f))
      ->default_val(0.0f);
  cmd->add_option("--repeat-penalty", o.repeat_penalty, "Repetition penalty over prompt and output (1: off)")
      ->check(CLI::Range(0.01f, 2.0f))
      ->default_val(1.0f);
  cmd->add_option("--stop", o.stop, "Stop string (repeatable); it is not printed");
  cmd->add_flag("--ignore-eos", o.ignore_eos, "Keep generating past end-of-generation tokens");
  cmd->add_flag("--chat", o.chat, "Send the prompt as one user message through the model's chat template");
  cmd->add_option("--ctx-size", o.ctx_size, "Context of the sequence in tokens (0: the model's)")
      ->check(CLI::NonNegativeNumber)
      ->default_val(0);
  add_common_options(*cmd, o.common);
  add_split_options(*cmd, o.common);
  return cmd;
}

int run_generate(const GenerateOptions& o) {
  apply_logging(o.common);
  engine::RuntimeOptions ro = runtime_options(o.model, o.common);
  auto runtime = engine::ModelRuntime::load(ro);

  engine::Prompt prompt;
  if (o.chat) {
    engine::ChatPrompt chat;
    chat.messages.push_back({{"role", "user"}, {"content", o.prompt}});
    prompt = std::move(chat);
  } else {
    prompt = engine::TextPrompt{o.prompt, true};
  }

  engine::GenerationRequest req;
  req.prompt = engine::encode_prompt(*runtime, prompt);
  req.sampling.temperature = o.temperature;
  req.sampling.seed = o.seed;
  req.sampling.top_k = o.top_k;
  req.sampling.top_p = o.top_p;
  req.sampling.min_p = o.min_p;
  req.sampling.repetition_penalty = o.repeat_penalty;
  req.max_tokens = o.max_tokens;
  req.stop = o.stop;
  req.ignore_eos = o.ignore_eos;

  engine::Generator gen(*runtime, o.ctx_size);
  auto res = gen.generate(req, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  const double decode_s = res.decode_ms / 1000.0;
  log::info("generate_done", "generation finished",
            {{"prompt_tokens", res.prompt_tokens},
             {"generated_tokens", res.generated_tokens},
             {"stop_reason", std::string(engine::to_string(res.finish))},
             {"prefill_ms", res.prefill_ms},
             {"decode_tokens_per_sec", decode_s > 0 ? (res.generated_tokens - 1) / decode_s : 0.0}});
  return 0;
}

}  // namespace rbees::app
