#pragma once

#include <functional>

namespace rbees::loader {

struct LoadOptions {
  // Receives a fraction in [0, 1]. The loader reports its validation pass through it; the model,
  // handed the same options, reports its upload of the weights to the device.
  std::function<void(float)> on_progress;
};

}  // namespace rbees::loader
