// POST /execute: the worker protocol's job, streamed as SSE events (started, token..., metrics,
// end or error).
#include "core/log.hpp"
#include "server/endpoint_support.hpp"
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"
#include "server/execute_frames.hpp"
#include "server/execute_request.hpp"
#include "server/execute_sink.hpp"

namespace rbees::server::endpoints {

Reply execute(ServerContext& ctx, HttpRequest& req) {
  auto parsed = parse_execute_request(req.body);
  if (!parsed.ok()) return {validation_errors(req.path, parsed.errors), std::nullopt};
  auto ready = ready_engine(ctx, req);
  if (!ready.engine) return {*ready.refusal, std::nullopt};
  auto& e = ready.engine;
  const Deadline deadline = ctx.deadline_from_now();
  engine::Request request = std::move(*parsed.value);
  const std::string job_id = request.job_id;
  const engine::HealthInfo health = e->health();
  // `started` opens the stream, before any token the engine sends.
  auto format =
      std::make_shared<ExecuteFrames>(job_id, health.model, std::chrono::system_clock::now(), health.vram_bytes);
  auto channel = std::make_shared<StreamChannel>();
  auto sink = ctx.with_deadline(std::make_shared<ExecuteSink>(channel, ctx.metrics), channel);
  const auto admitted = e->submit(std::move(request), sink);
  if (admitted.admission != engine::Admission::accepted) {
    return {admission_refusal(ctx, req, admitted), std::nullopt};
  }
  log::info("job_admitted", "job admitted", {{"job_id", job_id}, {"prompt_tokens", admitted.prompt_tokens}});
  EngineReply reply;
  reply.channel = std::move(channel);
  reply.format = std::move(format);
  reply.engine = e;
  reply.job_id = job_id;
  reply.deadline = deadline;
  return {{}, std::move(reply)};
}

}  // namespace rbees::server::endpoints
