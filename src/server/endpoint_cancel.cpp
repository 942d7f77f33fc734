// POST /cancel: cancels a job by id (an OpenAI response's id: every choice); idempotent (202 whether
// or not it was still running).
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"
#include "server/execute_request.hpp"

namespace rbees::server::endpoints {

Reply cancel(ServerContext& ctx, HttpRequest& req) {
  auto parsed = parse_cancel_request(req.body);
  if (!parsed.ok()) return {validation_errors(req.path, parsed.errors), std::nullopt};
  const std::string& job_id = parsed.value->job_id;
  const auto owner = ctx.openai_jobs.owner(job_id);
  if (owner && *owner != req.connection_id && !ctx.auth.enabled()) {
    return {json_response(403, {{"code", "FORBIDDEN"},
                                {"message", "job " + job_id +
                                                " was started through the OpenAI API on another connection; only "
                                                "that connection, or a caller with the API key, may cancel it"},
                                {"retriable", false}}),
            std::nullopt};
  }
  bool found = false;
  if (auto e = ctx.engine()) {
    found = e->cancel(job_id);
    // An OpenAI response of several choices: its other jobs are named "<id>-<choice>".
    for (int k = 1; owner && ctx.openai_jobs.owner(job_id + "-" + std::to_string(k)); ++k) {
      found = e->cancel(job_id + "-" + std::to_string(k)) || found;
    }
  }
  return {json_response(202, {{"job_id", job_id}, {"cancelled", found}}), std::nullopt};
}

}  // namespace rbees::server::endpoints
