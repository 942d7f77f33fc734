#include "server/error_responses.hpp"

#include "server/request_timing.hpp"

namespace rbees::server {

using nlohmann::json;

bool is_openai_path(std::string_view path) {
  return path.rfind("/v1/", 0) == 0 || path == "/tokenize" || path == "/detokenize";
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = dump_json(body);
  return r;
}

HttpResponse validation_errors(std::string_view path, const FieldErrors& errors) {
  return json_response(400, is_openai_path(path) ? openai_error_body(errors) : worker_error_body(errors));
}

HttpResponse unavailable(std::string_view path, const std::string& code, const std::string& message, int retry_after) {
  json body = {{"code", code}, {"message", message}, {"retriable", true}};
  if (is_openai_path(path)) body["error"] = openai_error_body(message, "server_error", std::nullopt, code)["error"];
  HttpResponse r = json_response(503, body);
  if (retry_after > 0) r.headers.emplace_back("Retry-After", std::to_string(retry_after));
  return r;
}

HttpResponse limit_error(std::string_view path, int status, const std::string& what, const std::string& limit) {
  const std::string message = what + ": " + limit;
  if (is_openai_path(path)) {
    return json_response(status, openai_error_body(message, "invalid_request_error", std::nullopt, std::nullopt));
  }
  return json_response(status, {{"code", "INVALID_REQUEST"}, {"message", message}, {"retriable", false}});
}

HttpResponse unauthorized(std::string_view path) {
  HttpResponse r =
      is_openai_path(path)
          ? json_response(401, openai_error_body("invalid or missing API key", "invalid_request_error", std::nullopt,
                                                 std::string("invalid_api_key")))
          : json_response(401,
                          {{"code", "UNAUTHORIZED"}, {"message", "invalid or missing API key"}, {"retriable", false}});
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

HttpResponse not_found(std::string_view method, std::string_view path) {
  const std::string message = "no such endpoint: " + std::string(method) + " " + std::string(path);
  if (is_openai_path(path)) {
    return json_response(404, openai_error_body(message, "invalid_request_error", std::nullopt, std::nullopt));
  }
  return json_response(404, {{"code", "NOT_FOUND"}, {"message", message}});
}

HttpResponse model_not_found(const std::string& model) {
  return json_response(404, openai_error_body("The model '" + model + "' does not exist", "invalid_request_error",
                                              std::string("model"), std::string("model_not_found")));
}

HttpResponse method_not_allowed(std::string_view method, std::string_view path, const std::string& allow) {
  const std::string message = std::string(method) + " is not allowed on " + std::string(path) + ": it answers " + allow;
  HttpResponse r =
      is_openai_path(path)
          ? json_response(405, openai_error_body(message, "invalid_request_error", std::nullopt,
                                                 std::string("method_not_allowed")))
          : json_response(405, {{"code", "METHOD_NOT_ALLOWED"}, {"message", message}, {"retriable", false}});
  r.headers.emplace_back("Allow", allow);
  return r;
}

HttpResponse internal_error(const std::string& message) {
  return json_response(500, {{"code", "INFERENCE_FAILED"}, {"message", message}, {"retriable", false}});
}

std::string outcome_of(int status) {
  if (status >= 200 && status < 300) return "ok";
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413:
    case 414:
    case 431: return "too_large";
    case 503: return "unavailable";
    default: return "error";
  }
}

}  // namespace rbees::server
