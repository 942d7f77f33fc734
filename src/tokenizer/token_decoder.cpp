#include "tokenizer/token_decoder.hpp"

#include "tokenizer/byte_level.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace rbees::tokenizer {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "<0xAB>" -> 0xAB; -1 for anything else.
int byte_token_value(const std::string& t) {
  if (t.size() != 6 || t[0] != '<' || t[1] != '0' || t[2] != 'x' || t[5] != '>') return -1;
  int hi = hex_digit(t[3]), lo = hex_digit(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
  if (from.empty() || s.find(from) == std::string::npos) return s;
  std::string out;
  size_t pos = 0, hit;
  while ((hit = s.find(from, pos)) != std::string::npos) {
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  return out;
}

}  // namespace

TokenDecoder TokenDecoder::from_json(const nlohmann::json& j) {
  TokenDecoder d;
  if (!j.is_null()) d.add_from_json(j);
  return d;
}

void TokenDecoder::add_from_json(const nlohmann::json& j) {
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    for (const auto& sub : j.at("decoders")) add_from_json(sub);
  } else if (type == "Replace") {
    const auto& pat = j.at("pattern");
    if (!pat.contains("String"))
      throw std::invalid_argument("tokenizer: Replace decoder with a regex pattern is not supported");
    add_replace(pat.at("String").get<std::string>(), j.at("content").get<std::string>());
  } else if (type == "ByteFallback") {
    add_byte_fallback();
  } else if (type == "ByteLevel") {
    add_byte_level();
  } else if (type == "Fuse") {
    // Tokens are always joined; nothing to do.
  } else if (type == "Strip") {
    set_strip(j.value("content", std::string(" ")), j.value("start", size_t{0}), j.value("stop", size_t{0}));
  } else if (type == "Metaspace") {
    const std::string rep = j.value("replacement", std::string("\xE2\x96\x81"));
    add_replace(rep, " ");
    std::string scheme = "always";
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      scheme = j["prepend_scheme"].get<std::string>();
    } else if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean()) {
      scheme = j["add_prefix_space"].get<bool>() ? "always" : "never";
    }
    // The space that the pre-tokenizer prepended comes off the first token.
    if (scheme != "never") set_strip(" ", 1, strip_stop_);
  } else {
    throw std::invalid_argument("tokenizer: unsupported decoder \"" + type +
                                "\" (supported: Sequence, ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace)");
  }
}

void TokenDecoder::add_replace(std::string from, std::string to) {
  steps_.push_back({Kind::replace, std::move(from), std::move(to)});
}
void TokenDecoder::add_byte_fallback() {
  steps_.push_back({Kind::byte_fallback, "", ""});
}
void TokenDecoder::add_byte_level() {
  steps_.push_back({Kind::byte_level, "", ""});
}
void TokenDecoder::set_strip(std::string content, size_t start, size_t stop) {
  strip_content_ = std::move(content);
  strip_start_ = start;
  strip_stop_ = stop;
}

std::string TokenDecoder::token_bytes(const std::string& token) const {
  std::string s = token;
  for (const auto& step : steps_) {
    switch (step.kind) {
      case Kind::replace: s = replace_all(s, step.from, step.to); break;
      case Kind::byte_fallback:
        if (int b = byte_token_value(s); b >= 0) return std::string(1, static_cast<char>(b));
        break;
      case Kind::byte_level:
        if (auto bytes = byte_level::decode(s)) return *bytes;
        break;
    }
  }
  return s;
}

}  // namespace rbees::tokenizer
