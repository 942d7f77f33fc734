#pragma once
// Entry point of the loader layer: a Hugging Face directory or a GGUF file to a ModelSource.

#include <string>

#include "loader/load_error.hpp"
#include "loader/load_options.hpp"
#include "loader/model_source.hpp"

namespace rbees::loader {

// A directory goes to the Hugging Face loader; a file named *.gguf or starting with the GGUF magic to
// the GGUF loader. Throws LoadError naming the file and the problem.
ModelSource load_model_source(const std::string& path, const LoadOptions& options = {});

}  // namespace rbees::loader
