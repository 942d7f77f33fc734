#include "engine/perplexity.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <stdexcept>
#include <string>

#include "model/batch.hpp"
#include "model/kv_cache.hpp"

namespace rbees::engine {

std::vector<int32_t> perplexity_tokens(const ModelRuntime& runtime, std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return runtime.tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/false);
}

double negative_log_likelihood(const float* logits, int n_vocab, int32_t token) {
  // The same float/double mix as llama-perplexity's log_softmax, so that both sides round alike.
  float max_logit = logits[0];
  for (int i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum_exp = 0.0;
  for (int i = 0; i < n_vocab; ++i) sum_exp += expf(logits[i] - max_logit);
  return -(logits[token] - max_logit - std::log(sum_exp));
}

PerplexityResult perplexity(ModelRuntime& runtime, const std::vector<int32_t>& tokens, const PerplexityOptions& options,
                            const PerplexityProgress& progress) {
  const int n_ctx = options.n_ctx;
  if (n_ctx < 2) throw std::invalid_argument("the context must hold at least 2 tokens");
  if (n_ctx > runtime.context_length()) {
    throw std::invalid_argument("a context of " + std::to_string(n_ctx) + " tokens exceeds the model's " +
                                std::to_string(runtime.context_length()));
  }
  if (options.n_batch <= 0) throw std::invalid_argument("the batch size must be positive");
  if (tokens.size() < 2 * static_cast<size_t>(n_ctx)) {
    throw std::invalid_argument("the text has " + std::to_string(tokens.size()) + " tokens; a context of " +
                                std::to_string(n_ctx) + " needs at least " + std::to_string(2 * n_ctx));
  }

  model::LlamaModel& model = runtime.model();
  const int n_vocab = model.n_vocab();
  const auto& tok = runtime.tokenizer();
  const bool add_bos = tok.add_bos() && tok.bos_id().has_value();

  const int n_chunk_max = static_cast<int>(tokens.size() / n_ctx);
  const int n_chunk = options.n_chunks < 0 ? n_chunk_max : std::min(options.n_chunks, n_chunk_max);
  if (n_chunk == 0) throw std::invalid_argument("no window to score");
  // Every id is checked before a logits row is indexed with it.
  const auto last = tokens.begin() + static_cast<std::ptrdiff_t>(n_chunk) * n_ctx;
  if (std::any_of(tokens.begin(), last, [&](int32_t t) { return t < 0 || t >= n_vocab; })) {
    throw std::invalid_argument("the text has token ids outside the model's vocabulary");
  }
  const int n_batch = std::min(options.n_batch, n_ctx);
  // The first half of a window is context only; the last token's logits predict nothing inside it.
  const int first = n_ctx / 2;

  PerplexityResult res;
  res.n_text_tokens = static_cast<int>(tokens.size());
  model::KvCache kv = model.create_kv_cache(n_ctx);
  double nll = 0.0;
  double nll2 = 0.0;
  model::Batch batch;
  for (int chunk = 0; chunk < n_chunk; ++chunk) {
    const size_t start = static_cast<size_t>(chunk) * n_ctx;
    kv.clear();
    for (int b0 = 0; b0 < n_ctx; b0 += n_batch) {
      const int b1 = std::min(n_ctx, b0 + n_batch);
      batch = {};
      for (int k = b0; k < b1; ++k) {
        const int32_t id = (k == 0 && add_bos) ? *tok.bos_id() : tokens[start + k];
        batch.add(id, k, 0, k >= first && k < n_ctx - 1);
      }
      const std::span<const float> logits = model.forward_view(batch, kv);
      // Rows come in batch order: positions max(b0, first) .. b1-1, without the window's last.
      int row = 0;
      for (int k = std::max(b0, first); k < b1 && k < n_ctx - 1; ++k, ++row) {
        const double v =
            negative_log_likelihood(logits.data() + static_cast<size_t>(row) * n_vocab, n_vocab, tokens[start + k + 1]);
        nll += v;
        nll2 += v * v;
      }
    }
    res.n_scored += n_ctx - 1 - first;
    res.n_chunks = chunk + 1;
    res.running.push_back(std::exp(nll / static_cast<double>(res.n_scored)));
    if (progress) progress(res.n_chunks, res.running.back());
  }

  const double count = static_cast<double>(res.n_scored);
  const double mean = nll / count;
  res.ppl = std::exp(mean);
  const double variance = nll2 / count - mean * mean;
  if (variance > 0 && res.n_scored > 1) res.ppl_error = std::sqrt(variance / (count - 1)) * res.ppl;
  return res;
}

}  // namespace rbees::engine
