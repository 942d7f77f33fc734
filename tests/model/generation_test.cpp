// Greedy generation through the KV cache against transformers' greedy continuations.
#include <gtest/gtest.h>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

// `exact`: every token equals the reference's; otherwise (reduced precision) the continuation may
// leave it at a near tie of the exact model only (expect_greedy_follows_reference).
void expect_greedy_matches(const std::string& path, ModelOptions options, bool exact, ggml_type kv_type) {
  const auto& ref = Reference::get();
  LoadedModel lm(path, std::move(options));
  for (int c = 0; c < ref.n_cases(); ++c) {
    KvCache kv = lm.model->create_kv_cache(128, kv_type);
    const auto want = ref.greedy_ids(c);
    const auto got = greedy(*lm.model, kv, ref.input_ids(c), static_cast<int>(want.size()));
    if (exact) {
      EXPECT_EQ(got, want) << "case " << c;
    } else {
      expect_greedy_follows_reference(got, want, ref.input_ids(c), c);
    }
  }
}

TEST(Greedy, SafetensorsF32ReproducesAllFiveContinuations) {
  expect_greedy_matches(kHfDir, exact_options(), true, GGML_TYPE_F32);
}

TEST(Greedy, GgufF16ReproducesAllFiveContinuations) {
  expect_greedy_matches(kF16Gguf, ModelOptions{}, false, GGML_TYPE_F32);
}

TEST(Greedy, GgufF16WithF16CacheReproducesAllFiveContinuations) {
  expect_greedy_matches(kF16Gguf, ModelOptions{}, false, GGML_TYPE_F16);
}

TEST(Greedy, GgufF16FlashAttentionWithF16CacheReproducesAllFiveContinuations) {
  ModelOptions flash;
  flash.flash_attention = true;
  expect_greedy_matches(kF16Gguf, std::move(flash), false, GGML_TYPE_F16);
}

// Free-running text of the Q8_0 file may leave the reference path early, so feed the reference
// tokens and compare the argmax at every position with the reference's.
TEST(Greedy, GgufQ8_0TeacherForcedArgmaxAgreesAtLeast90Percent) {
  const auto& ref = Reference::get();
  LoadedModel lm(kQ8Gguf, ModelOptions{});
  LlamaModel& m = *lm.model;
  int agree = 0, total = 0;
  for (int c = 0; c < ref.n_cases(); ++c) {
    const auto prompt = ref.input_ids(c);
    const auto cont = ref.greedy_ids(c);
    const auto& ref_logits = ref.at("case" + std::to_string(c) + ".logits").f32;
    std::vector<int32_t> ids = prompt;
    ids.insert(ids.end(), cont.begin(), cont.end() - 1);
    KvCache kv = m.create_kv_cache(128, GGML_TYPE_F32);
    const auto logits = m.forward(prompt_batch(ids), kv);
    const int V = m.n_vocab();
    for (size_t i = 0; i < ids.size(); ++i) {
      // Inside the prompt the reference argmax comes from its logits; after it, it is the next
      // greedy token.
      const int expect = i + 1 < prompt.size() ? argmax(ref_logits.data() + i * V, V) : cont[i + 1 - prompt.size()];
      agree += argmax(logits.data() + i * V, V) == expect;
      ++total;
    }
  }
  const double rate = static_cast<double>(agree) / total;
  RecordProperty("agreement", std::to_string(rate));
  EXPECT_GE(rate, 0.90) << agree << " of " << total;
}

}  // namespace
}  // namespace rbees::model::testing
