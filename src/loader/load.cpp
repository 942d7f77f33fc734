#include "loader/load.hpp"

#include <filesystem>
#include <fstream>

#include "loader/gguf_loader.hpp"
#include "loader/hf_loader.hpp"

namespace rbees::loader {
namespace {

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

}  // namespace

ModelSource load_model_source(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw LoadError(path, "no such file or directory");
  if (std::filesystem::is_directory(status)) return load_hf_directory(path, options);
  if (std::filesystem::path(path).extension() == ".gguf" || has_gguf_magic(path)) return load_gguf_file(path, options);
  throw LoadError(path, "not a model: expected a Hugging Face model directory or a .gguf file");
}

}  // namespace rbees::loader
