#pragma once
// Responses that refuse a request, in the shape of the API the path belongs to: the worker
// protocol's {"code","message","retriable"} or OpenAI's {"error":{...}}.

#include "engine/engine.hpp"
#include "server/http_message.hpp"
#include "server/validation.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace rbees::server {

// The OpenAI API and llama-server's /tokenize and /detokenize.
bool is_openai_path(std::string_view path);

HttpResponse json_response(int status, const nlohmann::json& body);

// 400 listing every violation.
HttpResponse validation_errors(std::string_view path, const FieldErrors& errors);

// 503 bodies carry the worker protocol's {"code","message","retriable"} on every endpoint; OpenAI
// endpoints add OpenAI's "error" object beside them, which is what OpenAI clients read.
HttpResponse unavailable(std::string_view path, const std::string& code, const std::string& message, int retry_after);

// A refusal by one of the HTTP limits (413, 414, 431, 400 for a request that cannot be read),
// naming the limit.
HttpResponse limit_error(std::string_view path, int status, const std::string& what, const std::string& limit);

HttpResponse unauthorized(std::string_view path);
HttpResponse not_found(std::string_view method, std::string_view path);
// OpenAI's 404 for a model this worker does not serve: code model_not_found, param model.
HttpResponse model_not_found(const std::string& model);
// 405 for a known path asked with another method; `allow` lists its methods (the Allow header).
HttpResponse method_not_allowed(std::string_view method, std::string_view path, const std::string& allow);
HttpResponse internal_error(const std::string& message);

// The outcome label of rbees_requests_total for a status.
std::string outcome_of(int status);

}  // namespace rbees::server
