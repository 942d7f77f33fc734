#pragma once
// Paths and scratch directories shared by the loader tests.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace rbees::loader::test {

inline std::filesystem::path source_dir() {
  return RBEES_SOURCE_DIR;
}
inline std::filesystem::path default_model_dir() {
  return source_dir() / "models" / "wp-llama-5m";
}
inline std::filesystem::path f16_gguf() {
  return source_dir() / "tests" / "data" / "wp-llama-5m-f16.gguf";
}
inline std::filesystem::path q8_gguf() {
  return source_dir() / "tests" / "data" / "wp-llama-5m-q8_0.gguf";
}

// A fresh directory removed at scope end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rbees-loader-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::vector<char> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

}  // namespace rbees::loader::test
