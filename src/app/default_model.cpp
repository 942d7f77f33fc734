#include "app/default_model.hpp"

#include <stdexcept>
#include <string>

namespace rbees::app {

std::filesystem::path default_model_path() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot locate the executable to find the default model: " + ec.message());
  auto dir = exe.parent_path();
  const std::filesystem::path candidates[] = {
      dir / "models" / "wp-llama-5m",
      dir.parent_path() / "share" / "rbees-workerd" / "models" / "wp-llama-5m",
  };
  for (const auto& c : candidates) {
    if (std::filesystem::exists(c / "config.json")) return std::filesystem::canonical(c);
  }
  throw std::runtime_error("the embedded default model was not found next to " + exe.string() + " (looked in " +
                           candidates[0].string() + " and " + candidates[1].string() + "); pass --model PATH");
}

}  // namespace rbees::app
