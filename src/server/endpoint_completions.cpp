// POST /v1/completions and /v1/chat/completions: OpenAI's completion APIs, streamed as `data:`
// chunks or answered with one JSON response once the job has ended.
#include "core/log.hpp"
#include "server/endpoint_support.hpp"
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"
#include "server/openai_request.hpp"
#include "server/openai_sink.hpp"

namespace rbees::server::endpoints {

namespace {

Reply openai_completion(ServerContext& ctx, HttpRequest& req, bool chat) {
  auto parsed = chat ? parse_chat_completion_request(req.body) : parse_completion_request(req.body);
  if (!parsed.ok()) return {validation_errors(req.path, parsed.errors), std::nullopt};
  auto ready = ready_engine(ctx, req);
  if (!ready.engine) return {*ready.refusal, std::nullopt};
  auto& e = ready.engine;
  const Deadline deadline = ctx.deadline_from_now();
  OpenAiRequest o = std::move(*parsed.value);
  OpenAiContext oc;
  oc.id = random_id(chat ? "chatcmpl-" : "cmpl-");
  oc.model = e->health().model;
  oc.created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  oc.chat = chat;
  oc.stream = o.stream;
  oc.include_usage = o.include_usage;
  oc.logprobs = o.request.logprobs;
  if (o.request.echo && !chat) {
    if (auto* text = std::get_if<engine::TextPrompt>(&o.request.prompt)) oc.echo_prefix = text->text;
    if (auto* ids = std::get_if<engine::TokenPrompt>(&o.request.prompt)) oc.echo_prefix = e->detokenize(ids->ids);
  }
  o.request.job_id = oc.id;
  auto channel = std::make_shared<StreamChannel>();
  auto sink = std::make_shared<OpenAiSink>(oc, e, channel, ctx.metrics);
  ctx.openai_jobs.claim(oc.id, req.connection_id);
  const auto admitted = e->submit(std::move(o.request), ctx.with_deadline(sink, channel));
  if (admitted.admission != engine::Admission::accepted) {
    ctx.openai_jobs.release(oc.id);
    return {admission_refusal(ctx, req, admitted), std::nullopt};
  }
  EngineReply reply;
  reply.channel = std::move(channel);
  reply.engine = e;
  reply.job_id = oc.id;
  reply.deadline = deadline;
  reply.sse = oc.stream;
  if (!oc.stream) {
    reply.complete = [sink] { return json_response(sink->status(), sink->response()); };
  }
  reply.on_end = [&ctx, id = oc.id] { ctx.openai_jobs.release(id); };
  return {{}, std::move(reply)};
}

}  // namespace

Reply completions(ServerContext& ctx, HttpRequest& req) {
  return openai_completion(ctx, req, false);
}

Reply chat_completions(ServerContext& ctx, HttpRequest& req) {
  return openai_completion(ctx, req, true);
}

}  // namespace rbees::server::endpoints
