#include "tokenizer/tokenizer.hpp"

#include "tokenizer/streaming_detokenizer.hpp"
#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/utf8.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace rbees::tokenizer {
namespace {

// Names llama.cpp treats as end-of-generation wherever they appear in a vocabulary.
constexpr std::array<std::string_view, 21> kEndOfTurnNames = {"<|eot_id|>",
                                                              "<|im_end|>",
                                                              "<|end|>",
                                                              "<|return|>",
                                                              "<|call|>",
                                                              "<end_of_turn>",
                                                              "<|endoftext|>",
                                                              "<|eom_id|>",
                                                              "<EOT>",
                                                              "_<EOT>",
                                                              "[EOT]",
                                                              "[EOS]",
                                                              "<|end_of_text|>",
                                                              "<end_of_utterance>",
                                                              "<eos>",
                                                              "</s>",
                                                              "<|calls|>",
                                                              "<|flush|>",
                                                              "<turn|>",
                                                              "<|tool_response>",
                                                              "<\xEF\xBD\x9C"
                                                              "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"};

bool is_gguf_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  f.read(magic, 4);
  return f.gcount() == 4 && std::string_view(magic, 4) == "GGUF";
}

}  // namespace

Tokenizer make_tokenizer(std::shared_ptr<const Tokenizer::Impl> impl) {
  return Tokenizer(std::move(impl));
}

void finish_tokenizer(Tokenizer::Impl& impl) {
  const size_t n = impl.vocab->size();
  impl.special.assign(n, 0);
  impl.added_token.assign(n, 0);
  for (const auto& t : impl.added.tokens()) {
    if (t.id < 0 || static_cast<size_t>(t.id) >= n) continue;
    impl.added_token[static_cast<size_t>(t.id)] = 1;
    if (t.special) impl.special[static_cast<size_t>(t.id)] = 1;
  }
  std::vector<int32_t> eog = impl.eog;  // end-of-turn ids a loader declared
  eog.insert(eog.end(), impl.eos.begin(), impl.eos.end());
  for (auto name : kEndOfTurnNames) {
    if (auto id = impl.vocab->find(name)) eog.push_back(*id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  impl.eog = std::move(eog);
}

namespace {

std::shared_ptr<const Tokenizer::Impl> load_impl(const std::string& path_text) {
  const fs::path path(path_text);
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "tokenizer.json")) return load_hf_json(path / "tokenizer.json", path);
    for (const auto& entry : fs::directory_iterator(path)) {
      if (entry.path().extension() == ".gguf") return load_gguf(entry.path());
    }
    throw std::runtime_error("tokenizer: no tokenizer.json or GGUF file in " + path_text);
  }
  if (!fs::exists(path, ec)) throw std::runtime_error("tokenizer: no such file: " + path_text);
  if (is_gguf_file(path)) return load_gguf(path);
  return load_hf_json(path, path.parent_path());
}

}  // namespace

Tokenizer Tokenizer::load(const std::string& path_text) {
  // A file of the wrong shape (a string where an object belongs, a missing key) surfaces as a JSON
  // library exception deep in the loader; callers are promised std::runtime_error.
  try {
    return Tokenizer(load_impl(path_text));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("tokenizer: " + path_text + " is malformed: " + e.what());
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view raw, bool add_special, bool parse_special) const {
  const Impl& m = *impl_;
  std::string sanitized;
  std::string_view text = raw;
  if (!utf8::is_valid(raw)) {
    sanitized = utf8::to_valid_lossy(raw);
    text = sanitized;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special) out.insert(out.end(), m.prefix_ids.begin(), m.prefix_ids.end());
  for (const Segment& seg : m.added.split(text, parse_special)) {
    if (seg.token >= 0) {
      out.push_back(seg.token);
      continue;
    }
    const bool at_start = seg.text.data() == text.data();
    const std::string normalized = m.normalizer.empty() ? std::string(seg.text) : m.normalizer.apply(seg.text);
    for (const std::string& word : m.pre_tokenizer.apply(normalized, at_start)) m.model->encode(word, out);
  }
  if (add_special) out.insert(out.end(), m.suffix_ids.begin(), m.suffix_ids.end());
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  StreamingDetokenizer stream(*this, skip_special);
  std::string out;
  for (int32_t id : ids) out += stream.push(id);
  out += stream.finish();
  // A trailing strip cannot be streamed; only the full decode applies it.
  const auto& content = impl_->decoder.strip_content();
  for (size_t i = 0; i < impl_->decoder.strip_stop() && !content.empty() && out.ends_with(content); ++i) {
    out.resize(out.size() - content.size());
  }
  return out;
}

std::string Tokenizer::token_bytes(int32_t id, bool skip_special) const {
  const Impl& m = *impl_;
  if (id < 0 || static_cast<size_t>(id) >= m.vocab->size()) return {};
  const auto i = static_cast<size_t>(id);
  if (skip_special && m.special[i]) return {};
  if (m.added_token[i]) return m.vocab->id_to_token[i];
  return m.decoder.token_bytes(m.vocab->id_to_token[i]);
}

std::pair<std::string, size_t> Tokenizer::leading_strip() const {
  return {impl_->decoder.strip_content(), impl_->decoder.strip_start()};
}

std::string Tokenizer::token_text(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->vocab->size()) return {};
  return impl_->vocab->id_to_token[static_cast<size_t>(id)];
}

std::optional<int32_t> Tokenizer::token_id(std::string_view text) const {
  return impl_->vocab->find(text);
}
size_t Tokenizer::vocab_size() const {
  return impl_->vocab->size();
}
std::string_view Tokenizer::kind() const {
  return impl_->kind;
}
std::optional<int32_t> Tokenizer::bos_id() const {
  return impl_->bos;
}
const std::vector<int32_t>& Tokenizer::eos_ids() const {
  return impl_->eos;
}
const std::vector<int32_t>& Tokenizer::end_of_generation_ids() const {
  return impl_->eog;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return std::binary_search(impl_->eog.begin(), impl_->eog.end(), id);
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[static_cast<size_t>(id)];
}

bool Tokenizer::add_bos() const {
  return impl_->bos && !impl_->prefix_ids.empty() && impl_->prefix_ids.front() == *impl_->bos;
}

const std::string& Tokenizer::bos_token() const {
  return impl_->bos_token;
}
const std::string& Tokenizer::eos_token() const {
  return impl_->eos_token;
}
const std::string& Tokenizer::chat_template() const {
  return impl_->chat_template;
}

}  // namespace rbees::tokenizer
