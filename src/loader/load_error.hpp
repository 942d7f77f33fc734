#pragma once
// The one exception type the loaders throw: its message names the file, what is wrong with it and,
// where it applies, the tensor.

#include <stdexcept>
#include <string>

namespace rbees::loader {

class LoadError : public std::runtime_error {
 public:
  LoadError(const std::string& file, const std::string& what) : std::runtime_error(file + ": " + what), file_(file) {}
  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

}  // namespace rbees::loader
