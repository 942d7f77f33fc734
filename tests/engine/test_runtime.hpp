#pragma once
// The engine tests' model: the embedded default model on the test device, loaded once per suite.

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/model_runtime.hpp"
#include "tokenizer/tokenizer.hpp"

namespace rbees::engine::test_support {

// The CPU unless RBEES_TEST_DEVICE names another device ("cuda:0"; scripts/gpu/check.sh).
inline std::string test_device() {
  const char* d = std::getenv("RBEES_TEST_DEVICE");
  return d != nullptr ? d : "cpu";
}

// batch_invariant: the mode whose rows do not depend on what else is in the batch (the CPU's).
inline std::unique_ptr<ModelRuntime> load_test_runtime(bool batch_invariant = false) {
  RuntimeOptions o;
  o.batch_invariant = batch_invariant;
  o.model_path = std::string(RBEES_SOURCE_DIR) + "/models/wp-llama-5m";
  o.device = test_device();
  o.threads = 1;  // the test machine's cores are shared
  return ModelRuntime::load(o);
}

// Openings of passages of the book the embedded model learnt, of mixed lengths.
inline std::vector<std::string> book_prompts() {
  return {"Pierre",
          "The Emperor Napoleon rode along the line of the army",
          "Natasha ran into the drawing room, and the old countess",
          "Prince Vasili",
          "The battle of Borodino",
          "Kutuzov",
          "She said that",
          "It was a cold winter morning in Moscow"};
}

// The embedded model's tokenizer alone, loaded once (for tests with no model).
inline const tokenizer::Tokenizer& test_tokenizer() {
  static const tokenizer::Tokenizer tok =
      tokenizer::Tokenizer::load(std::string(RBEES_SOURCE_DIR) + "/models/wp-llama-5m/tokenizer.json");
  return tok;
}

}  // namespace rbees::engine::test_support
