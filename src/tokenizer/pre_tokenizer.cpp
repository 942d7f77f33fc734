#include "tokenizer/pre_tokenizer.hpp"

#include "tokenizer/byte_level.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace rbees::tokenizer {

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

SplitBehavior parse_behavior(const std::string& name) {
  if (name == "Removed") return SplitBehavior::removed;
  if (name == "Isolated") return SplitBehavior::isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (name == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (name == "Contiguous") return SplitBehavior::contiguous;
  throw std::invalid_argument("tokenizer: unknown Split behavior \"" + name + "\"");
}

std::shared_ptr<const Regex> shared_regex(const std::string& pattern, bool literal) {
  return std::make_shared<const Regex>(pattern, Regex::Options{.literal = literal});
}

std::string replace_spaces(std::string_view text, const std::string& replacement) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (c == ' ') {
      out += replacement;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j) {
  PreTokenizer p;
  if (!j.is_null()) p.add_from_json(j);
  return p;
}

void PreTokenizer::add_from_json(const nlohmann::json& j) {
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    for (const auto& sub : j.at("pretokenizers")) add_from_json(sub);
  } else if (type == "Split") {
    const auto& pat = j.at("pattern");
    const bool literal = pat.contains("String");
    auto re = shared_regex(literal ? pat.at("String").get<std::string>() : pat.at("Regex").get<std::string>(), literal);
    add_split(std::move(re), parse_behavior(j.at("behavior").get<std::string>()), j.value("invert", false));
  } else if (type == "ByteLevel") {
    add_byte_level(j.value("add_prefix_space", true), j.value("use_regex", true));
  } else if (type == "Metaspace") {
    std::string scheme = "always";
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      scheme = j["prepend_scheme"].get<std::string>();
    } else if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean()) {
      scheme = j["add_prefix_space"].get<bool>() ? "always" : "never";  // older files
    }
    add_metaspace(j.value("replacement", std::string("\xE2\x96\x81")), scheme, j.value("split", true));
  } else if (type == "Digits") {
    add_digits(j.value("individual_digits", false));
  } else {
    throw std::invalid_argument("tokenizer: unsupported pre_tokenizer \"" + type +
                                "\" (supported: Sequence, Split, ByteLevel, Metaspace, Digits)");
  }
}

void PreTokenizer::add_split(std::shared_ptr<const Regex> pattern, SplitBehavior behavior, bool invert) {
  Step s{};
  s.kind = Kind::split;
  s.pattern = std::move(pattern);
  s.behavior = behavior;
  s.invert = invert;
  steps_.push_back(std::move(s));
}

void PreTokenizer::add_byte_level(bool add_prefix_space, bool use_regex) {
  Step s{};
  s.kind = Kind::byte_level;
  s.add_prefix_space = add_prefix_space;
  s.use_regex = use_regex;
  if (use_regex) {
    static const auto gpt2 = shared_regex(kGpt2Pattern, false);
    s.pattern = gpt2;
  }
  steps_.push_back(std::move(s));
  byte_level_ = true;
}

void PreTokenizer::add_metaspace(std::string replacement, std::string prepend_scheme, bool split) {
  if (prepend_scheme != "always" && prepend_scheme != "first" && prepend_scheme != "never") {
    throw std::invalid_argument("tokenizer: unknown Metaspace prepend_scheme \"" + prepend_scheme + "\"");
  }
  Step s{};
  s.kind = Kind::metaspace;
  s.replacement = std::move(replacement);
  s.prepend_scheme = std::move(prepend_scheme);
  s.split = split;
  if (split) s.pattern = shared_regex(s.replacement, true);
  steps_.push_back(std::move(s));
}

void PreTokenizer::add_digits(bool individual_digits) {
  static const auto digit = shared_regex(R"(\p{N})", false);
  add_split(digit, individual_digits ? SplitBehavior::isolated : SplitBehavior::contiguous, false);
}

void PreTokenizer::split_piece(const Piece& p, const Regex& re, SplitBehavior behavior, bool invert,
                               std::vector<Piece>& out) {
  // Cover the piece with (begin, end, is_match) ranges, then group them the way the behavior says.
  struct Range {
    size_t b, e;
    bool match;
  };
  std::vector<Range> ranges;
  size_t prev = 0;
  for (auto [b, e] : re.find_all(p.text)) {
    if (b > prev) ranges.push_back({prev, b, invert});
    ranges.push_back({b, e, !invert});
    prev = e;
  }
  if (prev < p.text.size()) ranges.push_back({prev, p.text.size(), invert});

  std::vector<Range> groups;
  switch (behavior) {
    case SplitBehavior::removed:
      for (const auto& r : ranges) {
        if (!r.match) groups.push_back(r);
      }
      break;
    case SplitBehavior::isolated: groups = ranges; break;
    case SplitBehavior::merged_with_previous: {
      bool prev_match = false;
      for (const auto& r : ranges) {
        if (r.match && !prev_match && !groups.empty()) {
          groups.back().e = r.e;
        } else {
          groups.push_back(r);
        }
        prev_match = r.match;
      }
      break;
    }
    case SplitBehavior::merged_with_next: {
      bool prev_match = false;
      for (auto it = ranges.rbegin(); it != ranges.rend(); ++it) {
        if (it->match && !prev_match && !groups.empty()) {
          groups.back().b = it->b;
        } else {
          groups.push_back(*it);
        }
        prev_match = it->match;
      }
      std::reverse(groups.begin(), groups.end());
      break;
    }
    case SplitBehavior::contiguous: {
      bool prev_match = false;
      for (const auto& r : ranges) {
        if (r.match == prev_match && !groups.empty()) {
          groups.back().e = r.e;
        } else {
          groups.push_back(r);
        }
        prev_match = r.match;
      }
      break;
    }
  }
  for (const auto& g : groups) {
    if (g.e > g.b) out.push_back({p.text.substr(g.b, g.e - g.b), p.at_start && g.b == 0});
  }
}

std::vector<std::string> PreTokenizer::apply(std::string_view segment, bool at_input_start) const {
  std::vector<Piece> pieces{{std::string(segment), at_input_start}};
  std::vector<Piece> next;
  for (const auto& step : steps_) {
    next.clear();
    for (auto& p : pieces) {
      switch (step.kind) {
        case Kind::split: split_piece(p, *step.pattern, step.behavior, step.invert, next); break;
        case Kind::byte_level: {
          Piece q = std::move(p);
          if (step.add_prefix_space && (q.text.empty() || q.text[0] != ' ')) q.text.insert(q.text.begin(), ' ');
          std::vector<Piece> parts;
          if (step.use_regex) {
            split_piece(q, *step.pattern, SplitBehavior::isolated, false, parts);
          } else {
            parts.push_back(std::move(q));
          }
          for (auto& part : parts) next.push_back({byte_level::encode(part.text), part.at_start});
          break;
        }
        case Kind::metaspace: {
          Piece q{replace_spaces(p.text, step.replacement), p.at_start};
          const bool starts = q.text.compare(0, step.replacement.size(), step.replacement) == 0;
          if (!starts && (step.prepend_scheme == "always" || (step.prepend_scheme == "first" && q.at_start))) {
            q.text.insert(0, step.replacement);
          }
          if (step.split) {
            split_piece(q, *step.pattern, SplitBehavior::merged_with_next, false, next);
          } else {
            next.push_back(std::move(q));
          }
          break;
        }
      }
    }
    pieces.swap(next);
  }
  std::vector<std::string> words;
  words.reserve(pieces.size());
  for (auto& p : pieces) {
    if (!p.text.empty()) words.push_back(std::move(p.text));
  }
  return words;
}

}  // namespace rbees::tokenizer
