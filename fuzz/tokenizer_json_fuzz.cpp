// tokenizer.json loading: model, normalizer, pre-tokenizer, post-processor, decoder and added tokens.
// A loaded tokenizer then encodes and decodes a fixed text, since a loader can accept a file whose
// tables only fail when used.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rbees::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto path = rbees::fuzz::write_input("tokenizer.json", data, size);
  try {
    auto tok = rbees::tokenizer::Tokenizer::load(path);
    auto ids = tok.encode("Hello, world! <s> 123 \xc3\xa9t\xc3\xa9  \n\tend", true);
    (void)tok.decode(ids);
    std::vector<int32_t> all;
    for (size_t i = 0; i < tok.vocab_size() && i < 256; ++i) all.push_back(static_cast<int32_t>(i));
    (void)tok.decode(all);
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
