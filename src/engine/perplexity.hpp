#pragma once
// Perplexity of a model over a text, by llama.cpp's llama-perplexity method, so that the two can be
// compared figure for figure: the text's tokens are cut into n_ctx-token windows, each evaluated
// from an empty cache with its first token replaced by BOS (when the tokenizer adds one), and only
// the second half of each window is scored, so that every scored token has at least n_ctx/2 tokens
// of context.

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "engine/model_runtime.hpp"

namespace rbees::engine {

struct PerplexityOptions {
  int n_ctx = 512;     // window length in tokens
  int n_chunks = -1;   // windows to score at most; negative: every whole window of the text
  int n_batch = 2048;  // tokens per forward pass; a longer window is evaluated in several passes
};

struct PerplexityResult {
  int n_text_tokens = 0;  // tokens of the whole text
  int n_chunks = 0;       // windows scored
  int64_t n_scored = 0;   // tokens scored
  double ppl = 0;         // exp(mean negative log-likelihood)
  // llama-perplexity's uncertainty: the standard error of the mean negative log-likelihood times ppl
  // (0 when the sample variance is not positive).
  double ppl_error = 0;
  std::vector<double> running;  // the estimate after each window, as llama-perplexity prints it
};

// The text's tokens as llama-perplexity takes them from its -f file: one trailing newline dropped,
// BOS added as the tokenizer says, special-token strings in the text read as plain text.
std::vector<int32_t> perplexity_tokens(const ModelRuntime& runtime, std::string_view text);

// Called after each window with its 1-based index and the running estimate.
using PerplexityProgress = std::function<void(int chunk, double running_ppl)>;

// Throws std::invalid_argument when n_ctx is below 2 or above the model's context, n_batch is not
// positive, or the text has fewer than 2 * n_ctx tokens (as llama-perplexity refuses it).
PerplexityResult perplexity(ModelRuntime& runtime, const std::vector<int32_t>& tokens, const PerplexityOptions& options,
                            const PerplexityProgress& progress = {});

// -log p(token) from one logits row, computed as llama-perplexity does: max in float, the sum of
// expf(logit - max) in double.
double negative_log_likelihood(const float* logits, int n_vocab, int32_t token);

}  // namespace rbees::engine
