// POST /v1/completions and /v1/chat/completions: OpenAI's completion APIs, streamed as `data:`
// chunks or answered with one JSON response once every choice's job has ended. Each choice (n per
// prompt, for each prompt of a batch) is its own job in the engine.
#include "core/log.hpp"
#include "grammar/grammar_error.hpp"
#include "server/endpoint_support.hpp"
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"
#include "server/openai_frames.hpp"
#include "server/openai_request.hpp"
#include "server/openai_sink.hpp"

namespace rbees::server::endpoints {

namespace {

// The text a completion with echo repeats before its output.
std::string prompt_text(const engine::Engine& e, const engine::Prompt& prompt) {
  if (const auto* text = std::get_if<engine::TextPrompt>(&prompt)) return text->text;
  if (const auto* ids = std::get_if<engine::TokenPrompt>(&prompt)) return e.detokenize(ids->ids);
  return "";
}

// A request's choices must fit the engine's slots and queue together: more could never all run.
std::optional<FieldError> too_many_choices(const engine::HealthInfo& h, const OpenAiRequest& o) {
  const int64_t capacity = h.max_seqs + h.max_queue;
  const int64_t wanted = static_cast<int64_t>(o.prompts.size()) * o.n;
  if (capacity <= 0 || wanted <= capacity) return std::nullopt;
  return FieldError{o.n > 1 ? "n" : "prompt", "max_choices(" + std::to_string(capacity) + ")",
                    "n (" + std::to_string(o.n) + ") times the prompts (" + std::to_string(o.prompts.size()) +
                        ") asks for " + std::to_string(wanted) + " sequences; this worker runs or queues at most " +
                        std::to_string(capacity) + " at once",
                    nlohmann::json(o.n > 1 ? o.n : static_cast<int64_t>(o.prompts.size()))};
}

// The template's call syntax decides how the output is read and, for a required or named call, the
// grammar that makes the model write one.
FieldErrors apply_tools(const ToolsRequest& tools, chat::ToolCallFormat format, engine::Request& request,
                        OpenAiContext& oc) {
  // tool_choice none: the template still lists the tools, and the output is plain content.
  if (tools.choice == ToolChoiceMode::kNone) return {};
  if (format == chat::ToolCallFormat::kNone) {
    return {{"tools", "tool_call_format",
             "the model's chat template writes tool calls in no syntax this server reads (Llama 3.1/3.2 JSON, "
             "Hermes / Qwen 2.5 <tool_call>, Mistral [TOOL_CALLS])",
             std::nullopt}};
  }
  oc.tool_format = format;
  oc.parallel_tool_calls = tools.parallel;
  request.special_text = true;
  try {
    if (auto gbnf = tool_call_grammar(tools, format)) {
      request.grammar = grammar::GrammarSpec{grammar::GrammarKind::kGbnf, std::move(*gbnf)};
      request.grammar_field = "tool_choice";
    }
  } catch (const grammar::GrammarError& e) {
    return {{"tools", "json_schema", e.what(), std::nullopt}};
  }
  return {};
}

Reply openai_completion(ServerContext& ctx, HttpRequest& req, bool chat) {
  auto parsed = chat ? parse_chat_completion_request(req.body) : parse_completion_request(req.body);
  if (!parsed.ok()) return {validation_errors(req.path, parsed.errors), std::nullopt};
  auto ready = ready_engine(ctx, req);
  if (!ready.engine) return {*ready.refusal, std::nullopt};
  auto& e = ready.engine;
  OpenAiRequest o = std::move(*parsed.value);
  const auto model = resolve_model(ctx, *e, o.model);
  if (!model) return {model_not_found(*o.model), std::nullopt};
  if (auto error = too_many_choices(e->health(), o)) return {validation_errors(req.path, {*error}), std::nullopt};

  const Deadline deadline = ctx.deadline_from_now();
  OpenAiContext oc;
  if (o.tools) {
    auto refusal = apply_tools(*o.tools, e->tool_call_format(), o.request, oc);
    if (!refusal.empty()) return {validation_errors(req.path, refusal), std::nullopt};
  }
  oc.id = random_id(chat ? "chatcmpl-" : "cmpl-");
  oc.model = *model;
  oc.created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  oc.chat = chat;
  oc.stream = o.stream;
  oc.include_usage = o.include_usage;
  oc.logprobs = o.request.logprobs;
  oc.n_per_prompt = o.n;
  oc.n_choices = static_cast<int>(o.prompts.size()) * o.n;
  if (o.request.echo && !chat) {
    for (const auto& p : o.prompts) oc.echo_prefixes.insert(oc.echo_prefixes.end(), o.n, prompt_text(*e, p));
  }
  auto channel = std::make_shared<StreamChannel>();
  auto sink = std::make_shared<OpenAiSink>(oc.n_choices, oc.logprobs.has_value() && !chat, channel, ctx.metrics);

  // Choice k = p * n + i is prompt p's i-th sample; the first job is named by the response's id,
  // the others by the id and their index. With a seed, sample i draws from seed + i.
  std::vector<std::string> job_ids;
  for (size_t p = 0; p < o.prompts.size(); ++p) {
    for (int i = 0; i < o.n; ++i) {
      const size_t k = p * static_cast<size_t>(o.n) + static_cast<size_t>(i);
      engine::Request job = o.request;
      job.prompt = o.prompts[p];
      job.job_id = k == 0 ? oc.id : oc.id + "-" + std::to_string(k);
      if (job.sampling.seed) *job.sampling.seed += static_cast<uint64_t>(i);
      ctx.openai_jobs.claim(job.job_id, req.connection_id);
      job_ids.push_back(job.job_id);
      auto admitted = e->submit(std::move(job), ctx.with_deadline(sink->choice(static_cast<int>(k)), channel));
      if (admitted.admission != engine::Admission::accepted) {
        sink->abandon();
        for (const auto& id : job_ids) ctx.openai_jobs.release(id);
        if (o.prompts.size() > 1 && admitted.field == "prompt") admitted.field = "prompt[" + std::to_string(p) + "]";
        return {admission_refusal(ctx, req, admitted), std::nullopt};
      }
    }
  }
  EngineReply reply;
  reply.channel = std::move(channel);
  reply.engine = e;
  reply.job_id = oc.id;
  reply.format = std::make_shared<OpenAiFrames>(std::move(oc), e);
  reply.deadline = deadline;
  reply.sse = o.stream;
  reply.on_end = [&ctx, ids = std::move(job_ids)] {
    for (const auto& id : ids) ctx.openai_jobs.release(id);
  };
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
