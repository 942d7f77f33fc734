// GET /metrics: Prometheus text exposition, the engine's gauges read at the time of the scrape.
#include "server/endpoints.hpp"

namespace rbees::server::endpoints {

Reply metrics(ServerContext& ctx, HttpRequest&) {
  auto& m = *ctx.metrics;
  m.uptime_seconds.set(std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started).count());
  m.healthy.set(ctx.state == ServerState::healthy ? 1.0 : 0.0);
  std::string devices;
  if (auto e = ctx.engine()) {
    // Each device's share of the model, one series per device.
    const auto h = e->health();
    std::string layers =
        "# HELP rbees_device_layers Repeating layers of the model on the device.\n"
        "# TYPE rbees_device_layers gauge\n";
    std::string weights =
        "# HELP rbees_device_weight_bytes Bytes of model weights on the device.\n"
        "# TYPE rbees_device_weight_bytes gauge\n";
    std::string kv =
        "# HELP rbees_device_kv_cache_bytes Bytes of KV cache on the device.\n"
        "# TYPE rbees_device_kv_cache_bytes gauge\n";
    for (const auto& d : h.devices) {
      const std::string label = "{device=\"" + escape_label_value(d.id) + "\"} ";
      layers += "rbees_device_layers" + label + std::to_string(d.layers) + "\n";
      weights += "rbees_device_weight_bytes" + label + std::to_string(d.weight_bytes) + "\n";
      kv += "rbees_device_kv_cache_bytes" + label + std::to_string(d.kv_bytes) + "\n";
    }
    if (!h.devices.empty()) devices = layers + weights + kv;
    const auto st = e->stats();
    m.queue_length.set(static_cast<double>(st.queue_length));
    m.running_sequences.set(static_cast<double>(st.running_sequences));
    m.kv_cache_usage_ratio.set(st.kv_cache_usage_ratio);
    m.vram_bytes.set(static_cast<double>(h.vram_bytes));
  }
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = m.registry.render() + devices;
  return {std::move(r), std::nullopt};
}

}  // namespace rbees::server::endpoints
