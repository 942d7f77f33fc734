#pragma once
// Where the tokenizer tests find their data.

#include <filesystem>

namespace rbees::tokenizer::test {

inline std::filesystem::path shared_dir() {
  return RBEES_SHARED_DIR;
}
inline std::filesystem::path default_model_dir() {
  return std::filesystem::path(RBEES_SOURCE_DIR) / "models/wp-llama-5m";
}
inline std::filesystem::path refs_path() {
  return shared_dir() / "tokenizers/tokenizer-refs.json";
}

}  // namespace rbees::tokenizer::test
