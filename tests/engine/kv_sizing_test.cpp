#include "engine/kv_sizing.hpp"

#include <gtest/gtest.h>

#include "engine/test_runtime.hpp"

namespace rbees::engine {
namespace {

TEST(KvSizing, CpuKeepsItsSmallDefaultsAndGivenValuesPassThrough) {
  auto rt = test_support::load_test_runtime();
  // The embedded model: 6 layers, 4 KV heads of 32: 2 * 6 * 128 F16 values per token.
  EXPECT_EQ(kv_bytes_per_token(*rt, GGML_TYPE_F16), 2u * 6 * 128 * 2);
  EXPECT_EQ(kv_bytes_per_token(*rt, GGML_TYPE_F32), 2u * 6 * 128 * 4);
  const KvSizing given = size_kv_cache(*rt, {4096, 3, 0.9}, GGML_TYPE_F16, 16);
  EXPECT_EQ(given.ctx_size, 4096);
  EXPECT_EQ(given.max_seqs, 3);
  EXPECT_EQ(given.basis, "given");
  // The embedded model's context is 1024 tokens: 1365-cell regions hold any sequence, 512-cell ones
  // do not.
  EXPECT_EQ(given.region_tokens, 1365);
  EXPECT_EQ(given.sequence_tokens, 1024);
  EXPECT_FALSE(given.short_regions());
  const KvSizing crowded = size_kv_cache(*rt, {4096, 8, 0.9}, GGML_TYPE_F16, 16);
  EXPECT_EQ(crowded.region_tokens, 512);
  EXPECT_TRUE(crowded.short_regions());
  if (!rt->device().is_cpu()) GTEST_SKIP() << "the defaults below are the CPU's";
  const KvSizing cpu = size_kv_cache(*rt, {}, GGML_TYPE_F16, 16);
  EXPECT_EQ(cpu.ctx_size, 8192);
  EXPECT_EQ(cpu.max_seqs, 8);
  EXPECT_EQ(cpu.basis, "cpu default");
  EXPECT_FALSE(cpu.short_regions());
  const KvSizing half = size_kv_cache(*rt, {std::nullopt, 2, 0.9}, GGML_TYPE_F16, 16);
  EXPECT_EQ(half.ctx_size, 8192);
  EXPECT_EQ(half.max_seqs, 2);
}

}  // namespace
}  // namespace rbees::engine
