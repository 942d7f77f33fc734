#pragma once
// Code-point views of UTF-8 strings: Python measures, indexes and slices strings by code point.
// Invalid bytes decode to themselves as single units so that no input is ever rejected or lost.

#include <string>
#include <string_view>
#include <vector>

namespace rbees::chat::utf8 {

bool is_ascii(std::string_view s);
// Splits into one string per code point (an invalid byte is its own unit).
std::vector<std::string> units(std::string_view s);
size_t length(std::string_view s);
char32_t decode_one(std::string_view unit);  // first code point of a unit
bool is_space(char32_t c);                   // Python str.isspace()

std::string to_lower_ascii(std::string s);
std::string to_upper_ascii(std::string s);

}  // namespace rbees::chat::utf8
