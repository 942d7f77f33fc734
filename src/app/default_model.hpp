#pragma once

#include <filesystem>

namespace rbees::app {

// The embedded default model, located relative to the running executable (build tree or install
// prefix), never relative to the working directory. Throws std::runtime_error when not found.
std::filesystem::path default_model_path();

}  // namespace rbees::app
