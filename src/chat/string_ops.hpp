#pragma once
// Python str methods as chat templates use them. Case mapping covers ASCII only; other characters
// keep their case.

#include <optional>
#include <string>
#include <vector>

namespace rbees::chat::str {

// chars: the set to strip (by code point); none: whitespace.
std::string strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right);
// sep none: runs of whitespace, dropping empty parts; maxsplit < 0: no limit.
std::vector<std::string> split(const std::string& s, const std::optional<std::string>& sep, long long maxsplit);
std::vector<std::string> rsplit(const std::string& s, const std::optional<std::string>& sep, long long maxsplit);
std::string replace(const std::string& s, const std::string& from, const std::string& to, long long count,
                    size_t max_bytes);
std::string capitalize(const std::string& s);
std::string title(const std::string& s);        // str.title()
std::string jinja_title(const std::string& s);  // the `title` filter: words split at whitespace, - ( { [ <
std::vector<std::string> splitlines(const std::string& s, bool keepends);
std::string html_escape(const std::string& s);

}  // namespace rbees::chat::str
