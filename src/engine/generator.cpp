#include "engine/generator.hpp"

#include <algorithm>
#include <chrono>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/clock.hpp"
#include "core/log.hpp"

namespace rbees::engine {

namespace {
using core::Clock;
using core::ms_since;
}  // namespace

ContinuationLimits continuation_limits(int n_prompt, std::optional<int> max_tokens, int context_limit, bool ignore_eos,
                                       std::vector<std::string> stop) {
  ContinuationLimits l;
  const int room = context_limit - n_prompt;
  if (max_tokens && *max_tokens <= room) {
    l.max_new_tokens = *max_tokens;
  } else {
    l.max_new_tokens = room;
    l.budget_from_context = true;
  }
  l.ignore_eos = ignore_eos;
  l.stop = std::move(stop);
  return l;
}

Generator::Generator(ModelRuntime& runtime, int n_ctx, ggml_type kv_type, std::optional<bool> greedy_on_device)
    : rt_(runtime),
      n_ctx_(n_ctx > 0 ? std::min(n_ctx, runtime.context_length()) : runtime.context_length()),
      greedy_on_device_(greedy_on_device.value_or(!runtime.device().is_cpu())),
      kv_(runtime.model().create_kv_cache(n_ctx_, kv_type)) {}

TokenResult Generator::step(Sequence& seq) {
  const int n = static_cast<int>(batch_.size());
  if (greedy_on_device_ && seq.plain_greedy()) {
    const std::span<const int32_t> picks = rt_.model().forward_greedy(batch_, kv_);
    seq.computed(n);
    return seq.on_greedy_token(picks[0]);
  }
  const std::span<const float> logits = rt_.model().forward_view(batch_, kv_);
  seq.computed(n);
  return seq.on_logits(logits);
}

GenerationResult Generator::generate(const GenerationRequest& request, const TextFn& on_text) {
  const int n_prompt = static_cast<int>(request.prompt.size());
  if (n_prompt == 0) throw std::invalid_argument("the prompt has no tokens");
  if (n_prompt >= n_ctx_) {
    throw std::invalid_argument("the prompt has " + std::to_string(n_prompt) + " tokens; the context holds " +
                                std::to_string(n_ctx_) + ", leaving no room to generate");
  }
  if (request.max_tokens && *request.max_tokens <= 0) throw std::invalid_argument("max_tokens must be positive");

  constexpr int32_t kSeq = 0;
  Sequence seq(request.prompt, request.sampling, rt_.tokenizer(),
               continuation_limits(n_prompt, request.max_tokens, n_ctx_, request.ignore_eos, request.stop));
  kv_.clear();
  seq.admit(kSeq, 0);

  GenerationResult res;
  res.prompt_tokens = n_prompt;
  auto emit = [&](const TokenResult& r) {
    if (!r.text.empty() && on_text) on_text(r.text);
    if (r.finish != FinishReason::none) {
      res.finish = r.finish;
      res.stop_matched = r.stop_matched;
    }
  };

  const auto t_prefill = Clock::now();
  batch_ = {};
  for (int i = 0; i < n_prompt; ++i) batch_.add(request.prompt[i], i, kSeq, i + 1 == n_prompt);
  emit(step(seq));
  res.prefill_ms = ms_since(t_prefill);

  const auto t_decode = Clock::now();
  while (seq.state() != SequenceState::finished) {
    const int pos = static_cast<int>(seq.tokens().size()) - 1;
    batch_.tokens.assign(1, seq.tokens().back());
    batch_.positions.assign(1, pos);
    batch_.seq_ids.assign(1, kSeq);
    batch_.want_logits.assign(1, true);
    emit(step(seq));
  }
  res.decode_ms = ms_since(t_decode);
  res.generated_tokens = seq.n_generated();
  res.tokens.assign(seq.tokens().begin() + n_prompt, seq.tokens().end());
  log::debug("generation_done", "sequence finished",
             {{"prompt_tokens", n_prompt},
              {"generated_tokens", res.generated_tokens},
              {"stop_reason", std::string(to_string(res.finish))},
              {"prefill_ms", res.prefill_ms},
              {"decode_ms", res.decode_ms}});
  return res;
}

}  // namespace rbees::engine
