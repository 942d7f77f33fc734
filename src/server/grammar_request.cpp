#include "server/grammar_request.hpp"

#include <set>
#include <string>
#include <vector>

namespace rbees::server {

using nlohmann::json;

namespace {

// Keys of `object` outside `known` are errors: a constraint is never half understood.
void check_keys(const json& object, const std::set<std::string>& known, const std::string& prefix,
                FieldErrors& errors) {
  for (const auto& [key, value] : object.items()) {
    if (!known.count(key)) {
      errors.push_back({prefix + key, "unknown_field", "is not a field this server implements", std::nullopt});
    }
  }
}

bool valid_schema_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

void read_grammar_fields(FieldReader& r, std::string_view body, engine::Request& req, bool response_format) {
  FieldErrors& errors = r.errors();
  std::vector<std::string> given;
  // The body again, with its keys in the client's order: nlohmann::json sorts object keys.
  auto schema_text = [&](const std::vector<std::string>& path) {
    auto j = nlohmann::ordered_json::parse(body);
    const nlohmann::ordered_json* at = &j;
    for (const auto& k : path) at = &(*at)[k];
    return at->dump();
  };
  auto set = [&](grammar::GrammarKind kind, std::string text, std::string field) {
    given.push_back(field);
    req.grammar = grammar::GrammarSpec{kind, std::move(text)};
    req.grammar_field = std::move(field);
  };

  if (const json* rf = response_format ? r.raw("response_format") : nullptr) {
    if (!rf->is_object()) {
      r.type_error("response_format", "object", *rf);
    } else {
      FieldReader f(*rf, errors, "response_format.");
      check_keys(*rf, {"type", "json_schema", "schema"}, "response_format.", errors);
      const auto type = f.string("type", true);
      if (type == "text") {
        if (rf->contains("json_schema") || rf->contains("schema")) {
          errors.push_back({"response_format.type", "requires(json_schema)",
                            "a schema needs type json_schema or json_object", json(*type)});
        }
      } else if (type == "json_object") {
        // llama-server's form: a schema alongside type json_object.
        if (const json* s = f.raw("schema")) {
          if (!s->is_object()) {
            f.type_error("schema", "object", *s);
          } else {
            set(grammar::GrammarKind::kJsonSchema, schema_text({"response_format", "schema"}),
                "response_format.schema");
          }
        } else {
          set(grammar::GrammarKind::kJsonObject, "", "response_format");
        }
      } else if (type == "json_schema") {
        if (const json* js = f.raw("json_schema", true)) {
          if (!js->is_object()) {
            f.type_error("json_schema", "object", *js);
          } else {
            FieldReader s(*js, errors, "response_format.json_schema.");
            check_keys(*js, {"name", "description", "schema", "strict"}, "response_format.json_schema.", errors);
            if (const auto name = s.string("name", true); name && !valid_schema_name(*name)) {
              errors.push_back({"response_format.json_schema.name", "pattern(^[a-zA-Z0-9_-]{1,64}$)",
                                "must be 1 to 64 letters, digits, underscores or dashes", echo_value(json(*name))});
            }
            s.string("description");
            // Enforced whether strict or not: a schema is never only a suggestion here.
            s.boolean("strict");
            if (const json* schema = s.raw("schema")) {
              if (!schema->is_object()) {
                s.type_error("schema", "object", *schema);
              } else {
                set(grammar::GrammarKind::kJsonSchema, schema_text({"response_format", "json_schema", "schema"}),
                    "response_format.json_schema.schema");
              }
            } else {
              set(grammar::GrammarKind::kJsonObject, "", "response_format.json_schema");
            }
          }
        }
      } else if (type) {
        errors.push_back({"response_format.type", "enum(text,json_object,json_schema)",
                          "must be text, json_object or json_schema", echo_value(json(*type))});
      }
    }
  }
  if (const json* g = r.raw("grammar")) {
    if (!g->is_string()) {
      r.type_error("grammar", "string", *g);
    } else if (!g->get<std::string>().empty()) {  // llama-server's "no grammar"
      set(grammar::GrammarKind::kGbnf, g->get<std::string>(), "grammar");
    }
  }
  if (const json* s = r.raw("json_schema")) {
    if (!s->is_object()) {
      r.type_error("json_schema", "object", *s);
    } else {
      set(grammar::GrammarKind::kJsonSchema, schema_text({"json_schema"}), "json_schema");
    }
  }
  if (given.size() > 1) {
    errors.push_back({given[1], "exclusive",
                      "only one of " + given[0] + " and " + given[1] + " may constrain the output", std::nullopt});
  }
}

}  // namespace rbees::server
