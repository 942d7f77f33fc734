// The default model's tokenizer on arbitrary input: the first byte picks encoding the rest as text
// (with or without special tokens) or decoding it as an array of token ids (any int32, in or out of
// the vocabulary). Encoded text must decode without error.
#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.hpp"

namespace {

const rbees::tokenizer::Tokenizer& tokenizer() {
  static const auto tok = rbees::tokenizer::Tokenizer::load(RBEES_SOURCE_DIR "/models/wp-llama-5m/tokenizer.json");
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rbees::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& tok = tokenizer();
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  ++data;
  --size;
  if (mode & 1) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto ids = tok.encode(text, (mode & 2) != 0, (mode & 4) != 0);
    for (int32_t id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= tok.vocab_size()) __builtin_trap();
    }
    (void)tok.decode(ids, (mode & 8) != 0);
  } else {
    std::vector<int32_t> ids(size / sizeof(int32_t));
    if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * sizeof(int32_t));
    try {
      (void)tok.decode(ids, (mode & 8) != 0);
    } catch (const std::out_of_range&) {
      // Ids outside the vocabulary are refused.
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
