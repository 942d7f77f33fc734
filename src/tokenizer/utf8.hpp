#pragma once
// UTF-8 helpers shared by the encoder (sanitising input) and the decoders (never emitting a split
// character).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rbees::tokenizer::utf8 {

// Result of inspecting the bytes at the start of a buffer.
struct SequenceCheck {
  enum class State { valid, incomplete, invalid } state;
  size_t length;  // valid: bytes of the character; invalid: bytes of the maximal ill-formed subpart
};

// Classifies the UTF-8 sequence starting at s[0] (s must be non-empty). "incomplete" means the buffer
// ends inside a sequence that could still become valid.
SequenceCheck check_sequence(std::string_view s);

// Number of bytes of a well-formed character starting with this lead byte (1 for stray bytes).
size_t sequence_length(unsigned char lead);

bool is_valid(std::string_view s);

// Replaces each maximal ill-formed subpart with U+FFFD, as Rust's String::from_utf8_lossy does.
std::string to_valid_lossy(std::string_view s);

void append_codepoint(std::string& out, uint32_t cp);

// Decodes the character at s[pos] (which must be valid) and advances pos.
uint32_t next_codepoint(std::string_view s, size_t& pos);

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

}  // namespace rbees::tokenizer::utf8
