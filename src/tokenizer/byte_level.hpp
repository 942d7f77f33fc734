#pragma once
// GPT-2's reversible byte <-> printable character mapping used by byte-level BPE vocabularies
// (every byte becomes one visible Unicode character so that merges never see raw spaces or controls).

#include <optional>
#include <string>
#include <string_view>

namespace rbees::tokenizer::byte_level {

// Maps every byte of text to its printable character.
std::string encode(std::string_view text);

// Maps the characters of a vocabulary token back to bytes; nullopt if a character is outside the
// 256-character alphabet.
std::optional<std::string> decode(std::string_view token);

// The UTF-8 of the character that stands for byte b.
const std::string& char_for_byte(unsigned char b);

}  // namespace rbees::tokenizer::byte_level
