#include "tokenizer/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>
#include <string>

namespace rbees::tokenizer {
namespace {

struct MatchData {
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  MatchData() = default;
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
  ~MatchData() { pcre2_match_data_free(md); }
};

}  // namespace

Regex::Regex(const std::string& pattern, Options opts) : pattern_(pattern) {
  // PCRE2 accepts only a few options beside LITERAL, and Unicode properties mean nothing there.
  uint32_t flags = PCRE2_UTF | (opts.literal ? PCRE2_LITERAL : PCRE2_UCP);
  if (opts.dollar_end_only) flags |= PCRE2_DOLLAR_ENDONLY;
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  auto* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), flags, &err, &err_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw std::invalid_argument("tokenizer: bad regex at offset " + std::to_string(err_offset) + ": " +
                                reinterpret_cast<const char*>(msg) + " in /" + pattern + "/");
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
  code_ = code;
}

Regex::~Regex() {
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  auto* code = static_cast<pcre2_code*>(code_);
  // Only the whole-match offsets are read, so one small match block per thread serves every pattern.
  thread_local MatchData md;
  std::vector<std::pair<size_t, size_t>> out;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    int rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, md.md, nullptr);
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.md);
    size_t b = ov[0], e = ov[1];
    if (e > b) {
      out.emplace_back(b, e);
      start = e;
    } else {
      // Empty match: step over one character.
      if (start >= text.size()) break;
      size_t n = 1;
      while (start + n < text.size() && (static_cast<unsigned char>(text[start + n]) & 0xC0) == 0x80) ++n;
      start += n;
    }
  }
  return out;
}

}  // namespace rbees::tokenizer
