#include "server/request_timing.hpp"

namespace rbees::server {

void RequestTiming::token() {
  const auto now = std::chrono::steady_clock::now();
  if (metrics_) {
    metrics_->generated_tokens.inc();
    const auto since = any_ ? now - last_ : now - start_;
    (any_ ? metrics_->inter_token_latency : metrics_->time_to_first_token)
        .observe(std::chrono::duration<double>(since).count());
  }
  any_ = true;
  last_ = now;
}

void RequestTiming::finish(const engine::FinalResult& result) {
  if (!metrics_) return;
  metrics_->prompt_tokens.inc(result.prompt_tokens);
  metrics_->prefix_cache_hit_tokens.inc(result.cached_prompt_tokens);
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace rbees::server
