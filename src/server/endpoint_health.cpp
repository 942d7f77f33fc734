// GET /health: the worker's state and, once loaded, its model. Never needs the API key.
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"

namespace rbees::server::endpoints {

Reply health(ServerContext& ctx, HttpRequest&) {
  const ServerState st = ctx.state;
  nlohmann::json body = {
      {"status", st == ServerState::loading     ? "loading"
                 : st == ServerState::draining  ? "draining"
                 : st == ServerState::unhealthy ? "unhealthy"
                                                : "healthy"},
      {"worker_id", ctx.options.worker_id},
      {"uptime_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started).count()},
      // Tells a client (the chat page) to ask for the key before its first request.
      {"api_key_required", ctx.auth.enabled()}};
  if (st == ServerState::unhealthy) body["reason"] = ctx.unhealthy_reason();
  if (auto e = ctx.engine()) {
    const auto h = e->health();
    body["model"] = h.model;
    body["device"] = h.device;
    body["resident"] = h.resident;
    body["quant_kind"] = h.quant_kind;
    body["vram_bytes"] = h.vram_bytes;
    body["tokenizer_kind"] = h.tokenizer_kind;
    body["vocab_size"] = h.vocab_size;
    body["context_length"] = h.context_length;
    body["kv_cache_tokens"] = h.kv_cache_tokens;
    body["region_tokens"] = h.region_tokens;
    body["max_home_span"] = h.max_home_span;
    body["max_seqs"] = h.max_seqs;
    nlohmann::json devices = nlohmann::json::array();
    for (const auto& d : h.devices) {
      devices.push_back({{"id", d.id},
                         {"ggml_device", d.ggml_name},
                         {"layers", d.layers},
                         {"token_embd", d.token_embd},
                         {"output", d.output},
                         {"weight_bytes", d.weight_bytes},
                         {"kv_cache_bytes", d.kv_bytes}});
    }
    body["devices"] = std::move(devices);
  }
  return {json_response(st == ServerState::healthy ? 200 : 503, body), std::nullopt};
}

}  // namespace rbees::server::endpoints
