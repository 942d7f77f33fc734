#include "loader/quantize.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>

#include "loader/load.hpp"
#include "loader/test_paths.hpp"

namespace rbees::loader {
namespace {

std::vector<float> to_f32(const TensorView& v) {
  const int64_t n = v.ne[0] * v.ne[1] * v.ne[2] * v.ne[3];
  std::vector<float> out(static_cast<std::size_t>(n));
  if (v.type == GGML_TYPE_F32) {
    std::memcpy(out.data(), v.data, out.size() * sizeof(float));
  } else {
    ggml_get_type_traits(v.type)->to_float(v.data, out.data(), n);
  }
  return out;
}

double relative_l2(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    num += (double{got[i]} - want[i]) * (double{got[i]} - want[i]);
    den += double{want[i]} * want[i];
  }
  return std::sqrt(num / den);
}

struct Case {
  const char* name;
  ggml_type target;
  double max_error;
  bool embeddings;  // token_embd converted too
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class QuantizeDefaultModel : public ::testing::TestWithParam<Case> {};

TEST_P(QuantizeDefaultModel, TypesAndDequantizedValues) {
  const Case& c = GetParam();
  ModelSource src = load_model_source(test::default_model_dir().string());
  std::map<std::string, std::vector<float>> original;
  for (const auto& [name, v] : src.tensors) original[name] = to_f32(v);

  std::vector<std::string> fell_back;
  quantize_source(src, parse_quant(c.name), &fell_back);

  std::vector<std::string> expect_fallback;
  for (const auto& [name, v] : src.tensors) {
    SCOPED_TRACE(name);
    ggml_type want = c.target;
    if (v.n_dims == 1) {
      want = GGML_TYPE_F32;
    } else if (name == "token_embd.weight" && !c.embeddings) {
      want = GGML_TYPE_BF16;  // left as loaded
    } else if (c.target == GGML_TYPE_Q4_K && v.ne[0] % 256 != 0) {
      want = GGML_TYPE_Q5_0;  // ffn_down rows are 704 long
      expect_fallback.push_back(name);
    }
    EXPECT_EQ(v.type, want) << ggml_type_name(v.type);
    EXPECT_EQ(v.nbytes, ggml_row_size(v.type, v.ne[0]) * static_cast<std::size_t>(v.ne[1]));
    const auto got = to_f32(v);
    const double err = relative_l2(got, original[name]);
    if (v.n_dims == 1 || v.type == GGML_TYPE_BF16) {
      EXPECT_EQ(err, 0.0);  // bf16 -> f32 is exact
    } else {
      EXPECT_LT(err, c.max_error);
      // Quantized blocks always lose something; bf16 -> f16 is exact for most weights.
      if (ggml_is_quantized(v.type)) EXPECT_GT(err, 0.0);
    }
  }
  EXPECT_EQ(fell_back, expect_fallback);
  if (c.target == GGML_TYPE_Q4_K) EXPECT_EQ(fell_back.size(), 6u);
}

INSTANTIATE_TEST_SUITE_P(Targets, QuantizeDefaultModel,
                         ::testing::Values(Case{"q8_0", GGML_TYPE_Q8_0, 1e-2, true},
                                           Case{"q4_0", GGML_TYPE_Q4_0, 1e-1, false},
                                           Case{"q4_k", GGML_TYPE_Q4_K, 1e-1, false},
                                           Case{"f16", GGML_TYPE_F16, 1e-3, true}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Quantize, F16GgufToQ8) {
  ModelSource src = load_model_source(test::f16_gguf().string());
  auto before = to_f32(*src.find("blk.0.ffn_up.weight"));
  quantize_source(src, GGML_TYPE_Q8_0, nullptr);
  const TensorView* up = src.find("blk.0.ffn_up.weight");
  EXPECT_EQ(up->type, GGML_TYPE_Q8_0);
  EXPECT_LT(relative_l2(to_f32(*up), before), 1e-2);
}

// Its rows are 8 or 32 long: too short for any 256-block type, so every matrix falls back.
TEST(Quantize, ThirdPartyTinyLlama2FallsBackWhereRowsAreShort) {
  auto p = std::filesystem::path(RBEES_SHARED_DIR) / "models" / "llama-2-tiny-random.gguf";
  if (!std::filesystem::exists(p)) GTEST_SKIP() << p << " is absent (../shared not checked out)";
  ModelSource src = load_model_source(p.string());
  std::vector<std::string> fell_back;
  quantize_source(src, GGML_TYPE_Q4_K, &fell_back);
  EXPECT_EQ(src.find("blk.0.ffn_down.weight")->type, GGML_TYPE_Q5_0);  // 32 wide
  EXPECT_EQ(src.find("blk.0.attn_q.weight")->type, GGML_TYPE_F16);     // 8 wide
  EXPECT_EQ(src.find("output.weight")->type, GGML_TYPE_F16);
  EXPECT_EQ(fell_back.size(), 8u);  // 7 block matrices + output
}

TEST(Quantize, ParseQuant) {
  EXPECT_EQ(parse_quant("q8_0"), GGML_TYPE_Q8_0);
  EXPECT_EQ(parse_quant("q4_0"), GGML_TYPE_Q4_0);
  EXPECT_EQ(parse_quant("q4_k"), GGML_TYPE_Q4_K);
  EXPECT_EQ(parse_quant("Q4_K"), GGML_TYPE_Q4_K);
  EXPECT_EQ(parse_quant("f16"), GGML_TYPE_F16);
  EXPECT_THROW(parse_quant("q3_k"), std::invalid_argument);
  EXPECT_THROW(parse_quant(""), std::invalid_argument);
}

}  // namespace
}  // namespace rbees::loader
