#pragma once
// The request fields that constrain output to a grammar: OpenAI's response_format (json_object,
// json_schema with name / schema / strict / description, and llama-server's json_object with a
// schema) and llama-server's `grammar` (GBNF) and `json_schema`. A schema is passed on with its
// object keys in the order the client wrote them (properties are generated in that order).

#include "engine/request.hpp"
#include "server/validation.hpp"

#include <string_view>

namespace rbees::server {

// Sets req.grammar and req.grammar_field; records type, value and exclusivity errors.
// response_format: whether the endpoint takes OpenAI's response_format (the /execute body does not).
void read_grammar_fields(FieldReader& r, std::string_view body, engine::Request& req, bool response_format);

}  // namespace rbees::server
