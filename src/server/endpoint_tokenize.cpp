// POST /tokenize and /detokenize: llama-server's token endpoints.
#include "server/endpoint_support.hpp"
#include "server/endpoints.hpp"
#include "server/error_responses.hpp"
#include "server/openai_request.hpp"

namespace rbees::server::endpoints {

Reply tokenize(ServerContext& ctx, HttpRequest& req) {
  auto parsed = parse_tokenize_request(req.body);
  if (!parsed.ok()) return {validation_errors(req.path, parsed.errors), std::nullopt};
  auto ready = ready_engine(ctx, req);
  if (!ready.engine) return {*ready.refusal, std::nullopt};
  return {json_response(200, {{"tokens", ready.engine->tokenize(parsed.value->content, parsed.value->add_special)}}),
          std::nullopt};
}

Reply detokenize(ServerContext& ctx, HttpRequest& req) {
  auto parsed = parse_detokenize_request(req.body);
  if (!parsed.ok()) return {validation_errors(req.path, parsed.errors), std::nullopt};
  auto ready = ready_engine(ctx, req);
  if (!ready.engine) return {*ready.refusal, std::nullopt};
  const auto vocab = ready.engine->health().vocab_size;
  const auto& tokens = parsed.value->tokens;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (vocab > 0 && tokens[i] >= vocab) {
      FieldErrors errors = {{"tokens[" + std::to_string(i) + "]", "range(0..=" + std::to_string(vocab - 1) + ")",
                             "is not a token id of this model", nlohmann::json(tokens[i])}};
      return {validation_errors(req.path, errors), std::nullopt};
    }
  }
  return {json_response(200, {{"content", ready.engine->detokenize(tokens)}}), std::nullopt};
}

}  // namespace rbees::server::endpoints
