#pragma once
// The one error a template can cause: a syntax error, a runtime error (wrong types, undefined
// callables, exhausted limits) or the template's own raise_exception(), whose message is kept verbatim.

#include <stdexcept>
#include <string>

namespace rbees::chat {

class TemplateError : public std::runtime_error {
 public:
  explicit TemplateError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace rbees::chat
