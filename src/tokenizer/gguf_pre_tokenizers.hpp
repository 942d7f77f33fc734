#pragma once
// The pre-tokenizer variants named by a GGUF file's tokenizer.ggml.pre (for byte-level BPE
// vocabularies): the regexes applied in turn, each splitting the pieces the previous one left, and the
// related flags, as llama.cpp defines them.

#include <string>
#include <vector>

namespace rbees::tokenizer {

struct GgufPreTokenizer {
  std::vector<std::string> patterns;
  bool ignore_merges = false;
  bool add_bos = false;  // the default when the file does not say
};

// Throws std::invalid_argument for a variant that is not supported.
GgufPreTokenizer gguf_pre_tokenizer(const std::string& name);

}  // namespace rbees::tokenizer
