// Request-body parsing and validation of every endpoint with a body: /execute, /cancel,
// /v1/completions, /v1/chat/completions, /tokenize and /detokenize. The same body goes to each parser;
// none may throw, and the error bodies they produce must serialize.
#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/execute_request.hpp"
#include "server/openai_request.hpp"
#include "server/validation.hpp"

namespace {

template <typename T>
void check(const rbees::server::Parsed<T>& parsed) {
  if (parsed.ok() != parsed.value.has_value()) __builtin_trap();
  if (!parsed.ok()) {
    (void)rbees::server::worker_error_body(parsed.errors).dump();
    (void)rbees::server::openai_error_body(parsed.errors).dump();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rbees::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  check(rbees::server::parse_execute_request(body));
  check(rbees::server::parse_cancel_request(body));
  check(rbees::server::parse_completion_request(body));
  check(rbees::server::parse_chat_completion_request(body));
  check(rbees::server::parse_tokenize_request(body));
  check(rbees::server::parse_detokenize_request(body));
  return 0;
}
