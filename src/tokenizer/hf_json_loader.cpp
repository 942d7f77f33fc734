// Loads a Hugging Face tokenizer.json (BPE models) and the model directory's config files.

#include "tokenizer/bpe_model.hpp"
#include "tokenizer/tokenizer_impl.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;
using nlohmann::json;

namespace rbees::tokenizer {
namespace {

// Refuses files too large to be a real tokenizer before reading them into memory.
void check_file_size(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (!ec && size > kMaxTokenizerFileBytes) {
    throw std::runtime_error("tokenizer: " + path.string() + " is " + std::to_string(size) +
                             " bytes, more than the limit of " + std::to_string(kMaxTokenizerFileBytes));
  }
}

json read_json(const fs::path& path) {
  check_file_size(path);
  std::ifstream f(path);
  if (!f) throw std::runtime_error("tokenizer: cannot read " + path.string());
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    throw std::runtime_error("tokenizer: " + path.string() + " is not valid JSON: " + e.what());
  }
}

// A token id from the file: an integer in 0..kMaxVocabSize-1. nlohmann's get<int32_t>() would
// truncate large integers and has undefined behaviour on floats out of int range.
int32_t token_id(const json& v) {
  if (!v.is_number_integer()) {
    throw std::runtime_error("tokenizer: token id " + v.dump().substr(0, 64) + " is not an integer");
  }
  const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() < kMaxVocabSize
                                               : v.get<int64_t>() >= 0 && v.get<int64_t>() < int64_t{kMaxVocabSize};
  if (!in_range) {
    throw std::runtime_error("tokenizer: token id " + v.dump() + " is outside 0.." + std::to_string(kMaxVocabSize - 1));
  }
  return static_cast<int32_t>(v.get<int64_t>());
}

std::optional<json> read_json_if_present(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  return read_json(path);
}

std::string read_text(const fs::path& path) {
  check_file_size(path);
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<std::pair<std::string, std::string>> parse_merges(const json& merges) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const auto& m : merges) {
    if (m.is_string()) {
      const auto s = m.get<std::string>();
      const auto space = s.find(' ');
      if (space == std::string::npos) throw std::runtime_error("tokenizer: bad merge \"" + s + "\"");
      out.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else {
      out.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
    }
  }
  return out;
}

// Reads TemplateProcessing's "single" template into the ids before and after the sequence.
void parse_template(const json& proc, Tokenizer::Impl& impl) {
  const auto& specials = proc.at("special_tokens");
  bool after = false;
  for (const auto& item : proc.at("single")) {
    if (item.contains("Sequence")) {
      after = true;
      continue;
    }
    const std::string name = item.at("SpecialToken").at("id").get<std::string>();
    for (const auto& id : specials.at(name).at("ids"))
      (after ? impl.suffix_ids : impl.prefix_ids).push_back(token_id(id));
  }
}

void parse_post_processor(const json& j, Tokenizer::Impl& impl) {
  if (j.is_null()) return;
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    for (const auto& sub : j.at("processors")) parse_post_processor(sub, impl);
  } else if (type == "TemplateProcessing") {
    parse_template(j, impl);
  } else if (type == "ByteLevel") {
    // Only adjusts offsets.
  } else {
    throw std::invalid_argument("tokenizer: unsupported post_processor \"" + type +
                                "\" (supported: TemplateProcessing, ByteLevel, Sequence)");
  }
}

// tokenizer_config.json names tokens either as strings or as {"content": ...} objects.
std::string token_name(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return {};
}

void add_ids(const json& j, std::vector<int32_t>& out) {
  if (j.is_number_integer()) out.push_back(token_id(j));
  if (j.is_array()) {
    for (const auto& v : j) {
      if (v.is_number_integer()) out.push_back(token_id(v));
    }
  }
}

std::string chat_template_from(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_array()) {
    // A named list: the "default" one, else the first.
    for (const auto& t : j) {
      if (t.value("name", "") == "default") return t.value("template", "");
    }
    if (!j.empty()) return j.front().value("template", "");
  }
  return {};
}

void read_model_configs(const fs::path& dir, Tokenizer::Impl& impl) {
  const Vocab& vocab = *impl.vocab;
  std::vector<int32_t> eos;
  auto tok_cfg = read_json_if_present(dir / "tokenizer_config.json");
  auto gen_cfg = read_json_if_present(dir / "generation_config.json");
  auto model_cfg = read_json_if_present(dir / "config.json");

  if (tok_cfg) {
    if (tok_cfg->contains("bos_token")) impl.bos_token = token_name((*tok_cfg)["bos_token"]);
    if (tok_cfg->contains("eos_token")) impl.eos_token = token_name((*tok_cfg)["eos_token"]);
    if (tok_cfg->contains("chat_template")) impl.chat_template = chat_template_from((*tok_cfg)["chat_template"]);
    if (!impl.bos_token.empty()) impl.bos = vocab.find(impl.bos_token);
    if (!impl.eos_token.empty()) {
      if (auto id = vocab.find(impl.eos_token)) eos.push_back(*id);
    }
  }
  for (const auto* cfg : {&gen_cfg, &model_cfg}) {
    if (!*cfg) continue;
    const json& c = **cfg;
    if (c.contains("eos_token_id")) add_ids(c["eos_token_id"], eos);
    if (!impl.bos && c.contains("bos_token_id") && c["bos_token_id"].is_number_integer()) {
      impl.bos = token_id(c["bos_token_id"]);
    }
  }
  if (std::error_code ec; fs::is_regular_file(dir / "chat_template.jinja", ec)) {
    impl.chat_template = read_text(dir / "chat_template.jinja");
  }
  // Without any config, the post-processor's first token is the BOS.
  if (!impl.bos && !impl.prefix_ids.empty()) impl.bos = impl.prefix_ids.front();
  if (impl.bos && impl.bos_token.empty() && static_cast<size_t>(*impl.bos) < vocab.size()) {
    impl.bos_token = vocab.id_to_token[static_cast<size_t>(*impl.bos)];
  }
  if (!eos.empty() && impl.eos_token.empty() && static_cast<size_t>(eos.front()) < vocab.size()) {
    impl.eos_token = vocab.id_to_token[static_cast<size_t>(eos.front())];
  }
  for (int32_t id : eos) {
    if (std::find(impl.eos.begin(), impl.eos.end(), id) == impl.eos.end()) impl.eos.push_back(id);
  }
}

}  // namespace

std::shared_ptr<Tokenizer::Impl> load_hf_json(const fs::path& path, const fs::path& config_dir) {
  const json j = read_json(path);
  auto impl = std::make_shared<Tokenizer::Impl>();
  impl->kind = "hf-json";
  impl->vocab = std::make_shared<Vocab>();

  const json& model = j.at("model");
  const std::string type = model.value("type", "BPE");
  if (type != "BPE") {
    throw std::invalid_argument("tokenizer: unsupported model type \"" + type + "\" in " + path.string() +
                                " (supported: BPE)");
  }
  if (!model.value("continuing_subword_prefix", json()).is_null() ||
      !model.value("end_of_word_suffix", json()).is_null()) {
    throw std::invalid_argument("tokenizer: BPE continuing_subword_prefix / end_of_word_suffix are not supported");
  }
  Vocab& vocab = *impl->vocab;
  const json& vj = model.at("vocab");
  if (vj.size() > kMaxVocabSize) {
    throw std::runtime_error("tokenizer: " + path.string() + " has " + std::to_string(vj.size()) +
                             " tokens, more than the limit of " + std::to_string(kMaxVocabSize));
  }
  vocab.id_to_token.resize(vj.size());
  vocab.token_to_id.reserve(vj.size() * 2);
  for (auto it = vj.begin(); it != vj.end(); ++it) vocab.set(token_id(it.value()), it.key());

  std::vector<AddedToken> added;
  for (const auto& t : j.value("added_tokens", json::array())) {
    AddedToken a;
    a.content = t.at("content").get<std::string>();
    a.id = token_id(t.at("id"));
    a.special = t.value("special", false);
    a.lstrip = t.value("lstrip", false);
    a.rstrip = t.value("rstrip", false);
    a.single_word = t.value("single_word", false);
    a.normalized = t.value("normalized", false);
    if (static_cast<size_t>(a.id) >= vocab.size() || vocab.id_to_token[static_cast<size_t>(a.id)].empty()) {
      vocab.set(a.id, a.content);
    } else {
      vocab.token_to_id.emplace(a.content, a.id);
    }
    added.push_back(std::move(a));
  }
  impl->added = AddedTokenMatcher(std::move(added));

  BpeModel::Options opts;
  opts.byte_fallback = model.value("byte_fallback", false);
  opts.ignore_merges = model.value("ignore_merges", false);
  opts.fuse_unk = model.value("fuse_unk", false);
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    opts.unk_id = vocab.find(model["unk_token"].get<std::string>());
  }
  impl->model = std::make_unique<BpeModel>(impl->vocab, parse_merges(model.value("merges", json::array())), opts);

  impl->normalizer = Normalizer::from_json(j.value("normalizer", json()));
  impl->pre_tokenizer = PreTokenizer::from_json(j.value("pre_tokenizer", json()));
  parse_post_processor(j.value("post_processor", json()), *impl);
  impl->decoder = TokenDecoder::from_json(j.value("decoder", json()));

  read_model_configs(config_dir, *impl);
  finish_tokenizer(*impl);
  return impl;
}

}  // namespace rbees::tokenizer
