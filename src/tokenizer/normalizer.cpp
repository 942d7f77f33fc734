#include "tokenizer/normalizer.hpp"

#include "tokenizer/utf8.hpp"

#include <utf8proc.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <stdexcept>

namespace rbees::tokenizer {
namespace {

std::string utf8proc_apply(std::string_view text, int options) {
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                        static_cast<utf8proc_ssize_t>(text.size()), &out, static_cast<utf8proc_option_t>(options));
  if (n < 0) return std::string(text);  // input is sanitised to valid UTF-8 earlier; keep it unchanged otherwise
  std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    auto cp = static_cast<utf8proc_int32_t>(utf8::next_codepoint(text, pos));
    utf8::append_codepoint(out, static_cast<uint32_t>(utf8proc_tolower(cp)));
  }
  return out;
}

}  // namespace

Normalizer Normalizer::from_json(const nlohmann::json& j) {
  Normalizer n;
  if (!j.is_null()) n.add_from_json(j);
  return n;
}

void Normalizer::add_from_json(const nlohmann::json& j) {
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    for (const auto& sub : j.at("normalizers")) add_from_json(sub);
  } else if (type == "Prepend") {
    add_prepend(j.at("prepend").get<std::string>());
  } else if (type == "Replace") {
    const auto& pat = j.at("pattern");
    std::string content = j.at("content").get<std::string>();
    if (pat.contains("String")) {
      add_replace(pat.at("String").get<std::string>(), std::move(content));
    } else {
      steps_.push_back(
          {Kind::replace, "", std::move(content), std::make_shared<Regex>(pat.at("Regex").get<std::string>())});
    }
  } else if (type == "NFC") {
    steps_.push_back({Kind::nfc, "", "", nullptr});
  } else if (type == "NFKC") {
    steps_.push_back({Kind::nfkc, "", "", nullptr});
  } else if (type == "NFD") {
    steps_.push_back({Kind::nfd, "", "", nullptr});
  } else if (type == "NFKD") {
    steps_.push_back({Kind::nfkd, "", "", nullptr});
  } else if (type == "Lowercase") {
    steps_.push_back({Kind::lowercase, "", "", nullptr});
  } else {
    throw std::invalid_argument("tokenizer: unsupported normalizer \"" + type +
                                "\" (supported: Sequence, Prepend, Replace, NFC, NFKC, NFD, NFKD, Lowercase)");
  }
}

void Normalizer::add_prepend(std::string prefix) {
  steps_.push_back({Kind::prepend, std::move(prefix), "", nullptr});
}

void Normalizer::add_replace(std::string literal, std::string content) {
  steps_.push_back({Kind::replace, std::move(literal), std::move(content), nullptr});
}

std::string Normalizer::apply(std::string_view text) const {
  std::string s(text);
  for (const auto& step : steps_) {
    switch (step.kind) {
      case Kind::prepend:
        if (!s.empty()) s = step.text + s;
        break;
      case Kind::replace:
        if (step.pattern) {
          std::string out;
          size_t pos = 0;
          for (auto [b, e] : step.pattern->find_all(s)) {
            out.append(s, pos, b - pos);
            out.append(step.content);
            pos = e;
          }
          out.append(s, pos, std::string::npos);
          s = std::move(out);
        } else {
          s = replace_all(s, step.text, step.content);
        }
        break;
      case Kind::nfc: s = utf8proc_apply(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE); break;
      case Kind::nfkc: s = utf8proc_apply(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT); break;
      case Kind::nfd: s = utf8proc_apply(s, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE); break;
      case Kind::nfkd: s = utf8proc_apply(s, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT); break;
      case Kind::lowercase: s = lowercase(s); break;
    }
  }
  return s;
}

}  // namespace rbees::tokenizer
