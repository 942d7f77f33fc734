// GET /metrics: Prometheus text exposition, the engine's gauges read at the time of the scrape.
#include "server/endpoints.hpp"

namespace rbees::server::endpoints {

Reply metrics(ServerContext& ctx, HttpRequest&) {
  auto& m = *ctx.metrics;
  m.uptime_seconds.set(std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started).count());
  if (auto e = ctx.engine()) {
    const auto st = e->stats();
    m.queue_length.set(static_cast<double>(st.queue_length));
    m.running_sequences.set(static_cast<double>(st.running_sequences));
    m.kv_cache_usage_ratio.set(st.kv_cache_usage_ratio);
    m.vram_bytes.set(static_cast<double>(e->health().vram_bytes));
  }
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = m.registry.render();
  return {std::move(r), std::nullopt};
}

}  // namespace rbees::server::endpoints
