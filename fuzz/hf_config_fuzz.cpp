// config.json parsing (transformers v4 and v5 forms) and the generation_config.json merge. The input
// is parsed as JSON first; the same document is also merged as a generation config.
#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "loader/hf_config.hpp"
#include "loader/load_error.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rbees::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;
  try {
    auto config = rbees::loader::parse_hf_config(json, "config.json");
    rbees::loader::merge_generation_config(config, json, "generation_config.json");
  } catch (const rbees::loader::LoadError&) {
  }
  return 0;
}
