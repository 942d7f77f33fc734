#include "model/graph_identity.hpp"

#include <ggml.h>

#include <iterator>
#include <stdexcept>

namespace rbees::model {

GraphIdentity::GraphIdentity(size_t n_tensors, std::chrono::steady_clock::duration idle)
    : bytes_(ggml_tensor_overhead() * n_tensors), idle_(idle) {}

GraphIdentity::~GraphIdentity() {
  if (ctx_ != nullptr) ggml_free(ctx_);
}

ggml_context* GraphIdentity::begin(uint64_t width) {
  if (ctx_ != nullptr) ggml_free(ctx_);
  ctx_ = nullptr;
  const Clock::time_point now = Clock::now();
  for (auto it = slots_.begin(); it != slots_.end();) {
    it = it->first != width && now - it->second.last_used >= idle_ ? slots_.erase(it) : std::next(it);
  }
  Slot& slot = slots_[width];
  if (slot.memory.empty()) slot.memory.resize(bytes_);
  slot.last_used = now;
  ctx_ = ggml_init({slot.memory.size(), slot.memory.data(), true});
  if (ctx_ == nullptr) throw std::runtime_error("could not initialize a graph context");
  return ctx_;
}

}  // namespace rbees::model
