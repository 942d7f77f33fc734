// The GGUF loading path: ggml's GGUF reader, then the loader's validation of what it returns (shapes,
// types, offsets against the file size, metadata types), and the tokenizer's GGUF vocabulary reader.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "fuzz_support.hpp"
#include "loader/gguf_loader.hpp"
#include "loader/load_error.hpp"
#include "tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rbees::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto path = rbees::fuzz::write_input("model.gguf", data, size);
  try {
    auto source = rbees::loader::load_gguf_file(path);
    // Every accepted tensor view must lie inside the mapping: touch its first and last byte.
    volatile uint8_t sink = 0;
    for (const auto& [name, view] : source.tensors) {
      if (view.nbytes == 0) continue;
      const auto* bytes = static_cast<const uint8_t*>(view.data);
      sink = sink + bytes[0] + bytes[view.nbytes - 1];
    }
  } catch (const rbees::loader::LoadError&) {
  }
  try {
    auto tok = rbees::tokenizer::Tokenizer::load(path);
    (void)tok.encode("Hello world", true);
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
