// Layer-by-layer checkpoints and full logits of the default model against transformers (fp32,
// eager attention), from the bf16 safetensors directory and the two GGUF conversions.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "model/reference.hpp"

namespace rbees::model::testing {
namespace {

struct Variant {
  std::string label;
  std::string path;
  bool flash;
  bool f32_weights;  // convert float matrices to F32 (else keep the file's types)
  double tol;
};

std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", x);
  return buf;
}

std::ostream& operator<<(std::ostream& os, const Variant& v) {
  return os << v.label;
}

class Checkpoints : public ::testing::TestWithParam<Variant> {
 protected:
  static LoadedModel& model_for(const Variant& v) {
    // One load per variant for the whole suite.
    static std::map<std::string, std::unique_ptr<LoadedModel>> cache;
    auto& slot = cache[v.label];
    if (!slot) {
      ModelOptions o = exact_options(v.flash);
      if (!v.f32_weights) o.float_matrix_type.reset();
      slot = std::make_unique<LoadedModel>(v.path, std::move(o));
    }
    return *slot;
  }
};

// Our intermediate for each reference checkpoint of case 0.
const std::vector<std::pair<std::string, std::string>> kCheckpoints = {
    {"cp01_layer0_attn_norm", "attn_norm-0"},
    {"cp02_layer0_q", "q-0"},
    {"cp02_layer0_k", "k-0"},
    {"cp02_layer0_v", "v-0"},
    {"cp05_layer0_attn_out_before_o", "attn_out_before_o-0"},
    {"cp05_layer0_attn_block_out", "attn_block_out-0"},
    {"cp06_layer0_ffn_norm", "ffn_norm-0"},
    {"cp06_layer0_ffn_out", "ffn_out-0"},
    {"cp07_layer0_out", "layer_out-0"},
    {"cp08_final_norm", "final_norm"},
    {"hidden_00", "embd"},
    {"hidden_01", "layer_out-0"},
    {"hidden_02", "layer_out-1"},
    {"hidden_03", "layer_out-2"},
    {"hidden_04", "layer_out-3"},
    {"hidden_05", "layer_out-4"},
    {"hidden_06", "final_norm"},
};

TEST_P(Checkpoints, Case0IntermediatesMatchReference) {
  const Variant& v = GetParam();
  const auto& ref = Reference::get();
  LoadedModel& lm = model_for(v);
  LlamaModel& m = *lm.model;
  KvCache kv = m.create_kv_cache(64, GGML_TYPE_F32);

  ForwardOptions opts;
  for (const auto& [r, ours] : kCheckpoints) opts.capture.push_back(ours);
  const auto ids = ref.input_ids(0);
  Output out = m.forward(prompt_batch(ids), kv, opts);

  for (const auto& [r, ours] : kCheckpoints) {
    const RefTensor& expect = ref.at("case0." + r);
    std::vector<float> got = out.captured.at(ours).data;
    // GGUF Q/K rows come in the converter's permuted order.
    if (m.qk_interleaved() && (ours == "q-0" || ours == "k-0")) {
      got = unpermute_rows(got, m.head_dim(), static_cast<int>(expect.shape[1]));
    }
    const double err = rel_l2(got, expect.f32);
    EXPECT_LT(err, device_tolerance(v.tol)) << r << " (" << ours << ")";
    RecordProperty(r, sci(err));
  }
  const double err = rel_l2(out.logits, ref.at("case0.logits").f32);
  EXPECT_LT(err, device_tolerance(v.tol)) << "logits";
  RecordProperty("logits", sci(err));
}

TEST_P(Checkpoints, LogitsOfEveryPositionOfEveryCase) {
  const Variant& v = GetParam();
  const auto& ref = Reference::get();
  LlamaModel& m = *model_for(v).model;
  for (int c = 0; c < ref.n_cases(); ++c) {
    KvCache kv = m.create_kv_cache(64, GGML_TYPE_F32);
    const auto ids = ref.input_ids(c);
    const std::vector<float> logits = m.forward(prompt_batch(ids), kv);
    const double err = rel_l2(logits, ref.at("case" + std::to_string(c) + ".logits").f32);
    EXPECT_LT(err, device_tolerance(v.tol)) << "case " << c;
    RecordProperty("case" + std::to_string(c), sci(err));
  }
}

INSTANTIATE_TEST_SUITE_P(WpLlama5m, Checkpoints,
                         ::testing::Values(Variant{"SafetensorsF32", kHfDir, false, true, 1e-5},
                                           Variant{"SafetensorsF32Flash", kHfDir, true, true, 1e-3},
                                           Variant{"GgufF16", kF16Gguf, false, false, 5e-3},
                                           Variant{"GgufF16AsF32", kF16Gguf, false, true, 5e-3},
                                           Variant{"GgufQ8_0", kQ8Gguf, false, false, 3e-2}),
                         [](const auto& info) { return info.param.label; });

}  // namespace
}  // namespace rbees::model::testing
