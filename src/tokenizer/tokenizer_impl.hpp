#pragma once
// The parts a Tokenizer is made of; filled in by the tokenizer.json and GGUF loaders.

#include "tokenizer/added_tokens.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/token_decoder.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/vocab.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace rbees::tokenizer {

struct Tokenizer::Impl {
  std::string kind;
  std::shared_ptr<Vocab> vocab;
  AddedTokenMatcher added;
  std::vector<uint8_t> special;      // per id: skipped by decode(skip_special)
  std::vector<uint8_t> added_token;  // per id: decoded verbatim
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::unique_ptr<Model> model;
  std::vector<int32_t> prefix_ids, suffix_ids;  // what the post-processor adds around the text
  TokenDecoder decoder;

  std::optional<int32_t> bos;
  std::vector<int32_t> eos;
  std::vector<int32_t> eog;  // loaders may put declared end-of-turn ids here; finish_tokenizer completes it
  std::string bos_token, eos_token, chat_template;
};

Tokenizer make_tokenizer(std::shared_ptr<const Tokenizer::Impl> impl);

// Loaders. load_hf_json reads the tokenizer.json at path and the config files in config_dir.
std::shared_ptr<Tokenizer::Impl> load_hf_json(const std::filesystem::path& path,
                                              const std::filesystem::path& config_dir);
std::shared_ptr<Tokenizer::Impl> load_gguf(const std::filesystem::path& path);

// Adds the vocabulary's end-of-turn tokens to impl.eog (after the declared EOS ids), as llama.cpp
// recognises them by name, and fills the per-id flag tables.
void finish_tokenizer(Tokenizer::Impl& impl);

}  // namespace rbees::tokenizer
