// The tokenizer.json building blocks on the examples that the Hugging Face tokenizers documentation
// gives for them.

#include "tokenizer/added_tokens.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/token_decoder.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace rbees::tokenizer {
namespace {

using nlohmann::json;
using Words = std::vector<std::string>;

Words split(const std::string& behavior, const std::string& text, bool invert = false,
            const json& pattern = {{"String", "-"}}) {
  const json j = {{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}};
  return PreTokenizer::from_json(j).apply(text, true);
}

TEST(SplitPreTokenizer, EveryBehaviour) {
  const std::string text = "the-final--countdown";
  EXPECT_EQ(split("Removed", text), (Words{"the", "final", "countdown"}));
  EXPECT_EQ(split("Isolated", text), (Words{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithPrevious", text), (Words{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithNext", text), (Words{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split("Contiguous", text), (Words{"the", "-", "final", "--", "countdown"}));
}

TEST(SplitPreTokenizer, InvertedRegex) {
  // The pattern names the words; what lies between them is the delimiter.
  EXPECT_EQ(split("Removed", "the-final--countdown", true, {{"Regex", "\\w+"}}), (Words{"the", "final", "countdown"}));
  EXPECT_EQ(split("Isolated", "ab, cd", true, {{"Regex", "\\p{L}+"}}), (Words{"ab", ", ", "cd"}));
}

TEST(SplitPreTokenizer, UnicodePropertiesAndLookahead) {
  const json llama3 = {{"Regex",
                        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                        "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
                        "\\s+(?!\\S)|\\s+"}};
  EXPECT_EQ(split("Isolated", "Ça   va? 12345 I'LL", false, llama3),
            (Words{"Ça", "  ", " va", "?", " ", "123", "45", " I", "'LL"}));
}

TEST(MetaspacePreTokenizer, PrependSchemes) {
  auto words = [](const std::string& scheme, bool split, const std::string& text, bool at_start) {
    const json j = {
        {"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", scheme}, {"split", split}};
    return PreTokenizer::from_json(j).apply(text, at_start);
  };
  EXPECT_EQ(words("always", true, "Hey friend!", true), (Words{"▁Hey", "▁friend!"}));
  EXPECT_EQ(words("always", false, "Hey friend!", false), (Words{"▁Hey▁friend!"}));
  EXPECT_EQ(words("first", false, "Hey friend!", true), (Words{"▁Hey▁friend!"}));
  EXPECT_EQ(words("first", false, "Hey friend!", false), (Words{"Hey▁friend!"}));
  EXPECT_EQ(words("never", true, "Hey friend!", true), (Words{"Hey", "▁friend!"}));
  EXPECT_EQ(words("always", false, " Hey", true), (Words{"▁Hey"}));  // already starts with the replacement
}

TEST(DigitsPreTokenizer, IndividualAndContiguous) {
  auto digits = [](bool individual) {
    return PreTokenizer::from_json({{"type", "Digits"}, {"individual_digits", individual}})
        .apply("Call 123 please", true);
  };
  EXPECT_EQ(digits(true), (Words{"Call ", "1", "2", "3", " please"}));
  EXPECT_EQ(digits(false), (Words{"Call ", "123", " please"}));
}

TEST(ByteLevelPreTokenizer, MapsBytesAndSplitsLikeGpt2) {
  const json j = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  EXPECT_EQ(PreTokenizer::from_json(j).apply("Hello my friend, how is your day going?", true),
            (Words{"ĠHello", "Ġmy", "Ġfriend", ",", "Ġhow", "Ġis", "Ġyour", "Ġday", "Ġgoing", "?"}));
}

TEST(Normalizers, UnicodeFormsReplaceAndPrepend) {
  EXPECT_EQ(Normalizer::from_json({{"type", "NFC"}}).apply("e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(Normalizer::from_json({{"type", "NFKC"}})
                .apply("\xEF\xAC\x81"
                       "x\xE2\x91\xA0"),
            "fix1");
  const json seq = {{"type", "Sequence"},
                    {"normalizers",
                     {{{"type", "Prepend"}, {"prepend", "▁"}},
                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}};
  EXPECT_EQ(Normalizer::from_json(seq).apply("Hey friend"), "▁Hey▁friend");
  EXPECT_EQ(Normalizer::from_json(seq).apply(""), "");
}

TEST(Normalizers, UnsupportedTypeIsNamed) {
  try {
    Normalizer::from_json({{"type", "BertNormalizer"}});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("BertNormalizer"), std::string::npos);
  }
}

TEST(AddedTokens, LongestFirstStripAndSingleWord) {
  AddedTokenMatcher m({{"<a>", 1, true},
                       {"<a><b>", 2, true},
                       {"[L]", 3, false, true, false},
                       {"[R]", 4, false, false, true},
                       {"cat", 5, false, false, false, true}});
  auto segments = [&](const std::string& text, bool parse_special = true) {
    std::vector<std::string> out;
    for (const auto& s : m.split(text, parse_special))
      out.push_back(s.token >= 0 ? "#" + std::to_string(s.token) : std::string(s.text));
    return out;
  };
  EXPECT_EQ(segments("x<a><b>y<a>"), (Words{"x", "#2", "y", "#1"}));
  EXPECT_EQ(segments("x<a><b>y", false), (Words{"x<a><b>y"}));
  EXPECT_EQ(segments("x  [L]  y"), (Words{"x", "#3", "  y"}));
  EXPECT_EQ(segments("x  [R]  y"), (Words{"x  ", "#4", "y"}));
  EXPECT_EQ(segments("a cat concatenate"), (Words{"a ", "#5", " concatenate"}));
}

TEST(Decoders, SentencePieceSequence) {
  const json j = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}},
                    {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  const TokenDecoder d = TokenDecoder::from_json(j);
  EXPECT_EQ(d.token_bytes("▁Hello"), " Hello");
  EXPECT_EQ(d.token_bytes("<0x0A>"), "\n");
  EXPECT_EQ(d.strip_start(), 1u);
  EXPECT_THROW(TokenDecoder::from_json({{"type", "WordPiece"}}), std::invalid_argument);
}

}  // namespace
}  // namespace rbees::tokenizer
