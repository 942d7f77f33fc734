#pragma once
// JSON Schema -> GBNF. Supported: type (one or a list), properties / required /
// additionalProperties, enum / const, items / prefixItems (and draft-7 array `items` with
// additionalItems) / minItems / maxItems, anyOf, oneOf (when its branches cannot overlap), allOf
// (merged), $ref to "#..." pointers with $defs / definitions, minLength / maxLength / pattern /
// format (date, time, date-time, uuid, email, ipv4), integer minimum / maximum /
// exclusiveMinimum / exclusiveMaximum, boolean schemas, and annotations (title, description,
// default, examples, $schema, $id, $comment, ...). Anything else is a GrammarError naming the
// keyword and where it is: a constraint is never dropped.
//
// Objects are generated with their properties in the schema's order, required ones first; other
// orders are not accepted.

#include <string>
#include <string_view>

namespace rbees::grammar {

// schema_json: the schema as JSON text (its object key order is kept). Throws GrammarError.
// root_name: the rule for the schema's value; another name lets a larger grammar embed the rules
// (their own names are r0, r1, ... and the JSON primitives: ws, value, string, ...).
std::string json_schema_to_gbnf(std::string_view schema_json, std::string_view root_name = "root");

// A grammar for any JSON object (response_format json_object).
std::string json_object_gbnf();

}  // namespace rbees::grammar
