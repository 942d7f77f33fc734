#include "server/tool_request.hpp"

#include "grammar/grammar_error.hpp"
#include "grammar/json_schema.hpp"

#include <set>

namespace rbees::server {

using nlohmann::json;
using Ordered = nlohmann::ordered_json;

namespace {

bool valid_function_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

template <typename J>
void unknown_keys(const J& object, const std::set<std::string>& known, const std::string& prefix, FieldErrors& errors) {
  for (const auto& [key, value] : object.items()) {
    if (!known.count(key)) {
      errors.push_back(
          {prefix + key, "unknown_field", "Unrecognized request argument supplied: " + prefix + key, std::nullopt});
    }
  }
}

void type_error(FieldErrors& errors, const std::string& field, const std::string& type, const Ordered& v) {
  const std::string article = type == "object" || type == "array" ? "an " : "a ";
  errors.push_back({field, "type(" + type + ")", "must be " + article + type, echo_value(json::parse(v.dump()))});
}

// One tools[i]; its function's name when valid.
std::optional<std::string> read_tool(const Ordered& tool, const std::string& field, FieldErrors& errors) {
  if (!tool.is_object()) {
    type_error(errors, field, "object", tool);
    return std::nullopt;
  }
  unknown_keys(tool, {"type", "function"}, field + ".", errors);
  if (!tool.contains("type") || tool["type"] != "function") {
    errors.push_back({field + ".type", "enum(function)", "must be \"function\"",
                      tool.contains("type") ? echo_value(json::parse(tool["type"].dump())) : std::nullopt});
  }
  if (!tool.contains("function") || !tool["function"].is_object()) {
    if (!tool.contains("function")) {
      errors.push_back({field + ".function", "required", "is required", std::nullopt});
    } else {
      type_error(errors, field + ".function", "object", tool["function"]);
    }
    return std::nullopt;
  }
  const Ordered& fn = tool["function"];
  const std::string f = field + ".function.";
  unknown_keys(fn, {"name", "description", "parameters", "strict"}, f, errors);
  std::optional<std::string> name;
  if (!fn.contains("name") || fn["name"].is_null()) {
    errors.push_back({f + "name", "required", "is required", std::nullopt});
  } else if (!fn["name"].is_string()) {
    type_error(errors, f + "name", "string", fn["name"]);
  } else if (!valid_function_name(fn["name"].get<std::string>())) {
    errors.push_back({f + "name", "pattern(^[a-zA-Z0-9_-]{1,64}$)",
                      "must be 1 to 64 letters, digits, underscores or dashes",
                      echo_value(json(fn["name"].get<std::string>()))});
  } else {
    name = fn["name"].get<std::string>();
  }
  if (fn.contains("description") && !fn["description"].is_string()) {
    type_error(errors, f + "description", "string", fn["description"]);
  }
  if (fn.contains("strict") && !fn["strict"].is_boolean()) type_error(errors, f + "strict", "boolean", fn["strict"]);
  if (fn.contains("parameters")) {
    const Ordered& p = fn["parameters"];
    if (!p.is_object()) {
      type_error(errors, f + "parameters", "object", p);
    } else if (p.contains("type") && p["type"] != "object") {
      errors.push_back({f + "parameters", "schema(object)", "must describe an object (type \"object\")", std::nullopt});
    } else {
      // The same converter that builds the grammar for required and named calls: a keyword it
      // cannot enforce is refused here, whatever tool_choice says, so no schema is half read.
      try {
        grammar::json_schema_to_gbnf(p.dump());
      } catch (const grammar::GrammarError& e) {
        std::string what = e.what();
        if (what.rfind("json_schema: ", 0) == 0) what.erase(0, 13);
        errors.push_back({f + "parameters", "json_schema", what, std::nullopt});
      }
    }
  }
  return name;
}

// $ref pointers of a schema moved to `base` inside a larger one ("#/x" -> "#<base>/x").
void move_refs(Ordered& schema, const std::string& base) {
  if (schema.is_object()) {
    for (auto& [key, value] : schema.items()) {
      if (key == "$ref" && value.is_string() && value.get<std::string>().rfind('#', 0) == 0) {
        value = "#" + base + value.get<std::string>().substr(1);
      } else {
        move_refs(value, base);
      }
    }
  } else if (schema.is_array()) {
    for (auto& v : schema) move_refs(v, base);
  }
}

}  // namespace

std::optional<ToolsRequest> read_tool_fields(FieldReader& r, std::string_view body) {
  FieldErrors& errors = r.errors();
  ToolsRequest out;
  std::set<std::string> names;
  const json* tools = r.raw("tools");
  if (tools) {
    // Again with the client's key order: templates print the tools as they come.
    const Ordered ordered = Ordered::parse(body)["tools"];
    if (!ordered.is_array()) {
      type_error(errors, "tools", "array", ordered);
    } else if (ordered.empty()) {
      errors.push_back({"tools", "non_empty", "must list at least one tool", std::nullopt});
    } else {
      for (size_t i = 0; i < ordered.size(); ++i) {
        const std::string field = "tools[" + std::to_string(i) + "]";
        auto name = read_tool(ordered[i], field, errors);
        if (name && !names.insert(*name).second) {
          errors.push_back({field + ".function.name", "unique", "names a function listed before", json(*name)});
        }
      }
      out.tools = ordered;
    }
  }

  if (const json* choice = r.raw("tool_choice")) {
    if (choice->is_string()) {
      const std::string c = choice->get<std::string>();
      if (c == "none") {
        out.choice = ToolChoiceMode::kNone;
      } else if (c == "auto") {
        out.choice = ToolChoiceMode::kAuto;
      } else if (c == "required") {
        out.choice = ToolChoiceMode::kRequired;
      } else {
        errors.push_back({"tool_choice", "enum(none,auto,required)",
                          "must be none, auto, required or {\"type\":\"function\",\"function\":{\"name\":...}}",
                          echo_value(*choice)});
      }
    } else if (choice->is_object()) {
      FieldReader c(*choice, errors, "tool_choice.");
      unknown_keys(*choice, {"type", "function"}, "tool_choice.", errors);
      if (const auto type = c.string("type", true); type && *type != "function") {
        errors.push_back({"tool_choice.type", "enum(function)", "must be \"function\"", echo_value(json(*type))});
      }
      if (const json* fn = c.raw("function", true)) {
        if (!fn->is_object()) {
          c.type_error("function", "object", *fn);
        } else {
          FieldReader f(*fn, errors, "tool_choice.function.");
          unknown_keys(*fn, {"name"}, "tool_choice.function.", errors);
          if (const auto name = f.string("name", true)) {
            out.choice = ToolChoiceMode::kFunction;
            out.function = *name;
            if (tools && !names.count(*name)) {
              errors.push_back({"tool_choice.function.name", "in(tools)", "names no function in tools", json(*name)});
            }
          }
        }
      }
    } else {
      r.type_error("tool_choice", "string or object", *choice);
    }
    if (!tools && (out.choice == ToolChoiceMode::kRequired || out.choice == ToolChoiceMode::kFunction)) {
      errors.push_back({"tool_choice", "requires(tools)", "needs tools", std::nullopt});
    }
  }
  out.parallel = r.boolean("parallel_tool_calls").value_or(true);
  if (!tools) return std::nullopt;
  return out;
}

Ordered read_message_tool_calls(const json& calls, const std::string& prefix, FieldErrors& errors) {
  Ordered out = Ordered::array();
  const std::string field = prefix + ".tool_calls";
  if (!calls.is_array()) {
    errors.push_back({field, "type(array)", "must be an array", echo_value(calls)});
    return out;
  }
  for (size_t j = 0; j < calls.size(); ++j) {
    const std::string f = field + "[" + std::to_string(j) + "]";
    const json& call = calls[j];
    if (!call.is_object()) {
      errors.push_back({f, "type(object)", "must be an object", echo_value(call)});
      continue;
    }
    unknown_keys(call, {"id", "type", "function"}, f + ".", errors);
    FieldReader c(call, errors, f + ".");
    const auto id = c.string("id", true);
    if (const auto type = c.string("type"); type && *type != "function") {
      errors.push_back({f + ".type", "enum(function)", "must be \"function\"", echo_value(json(*type))});
    }
    const json* fn = c.raw("function", true);
    if (!fn) continue;
    if (!fn->is_object()) {
      c.type_error("function", "object", *fn);
      continue;
    }
    unknown_keys(*fn, {"name", "arguments"}, f + ".function.", errors);
    FieldReader fr(*fn, errors, f + ".function.");
    const auto name = fr.string("name", true);
    const auto arguments = fr.string("arguments", true);
    Ordered args;
    if (arguments) {
      // Templates print the arguments as JSON (tojson), so they are passed on as the object.
      try {
        args = Ordered::parse(*arguments);
      } catch (const std::exception&) {
      }
      if (!args.is_object()) {
        errors.push_back({f + ".function.arguments", "json_object", "must be a JSON object, as text", std::nullopt});
      }
    }
    if (id && name && args.is_object()) {
      out.push_back({{"id", *id}, {"type", "function"}, {"function", {{"name", *name}, {"arguments", args}}}});
    }
  }
  return out;
}

std::optional<std::string> tool_call_grammar(const ToolsRequest& tools, chat::ToolCallFormat format) {
  if (tools.choice != ToolChoiceMode::kRequired && tools.choice != ToolChoiceMode::kFunction) return std::nullopt;
  // Llama 3.1 writes {"name", "parameters"}; the others {"name", "arguments"}.
  const std::string key = format == chat::ToolCallFormat::kLlama3 ? "parameters" : "arguments";
  std::vector<const Ordered*> fns;
  for (const auto& t : tools.tools) {
    if (tools.choice == ToolChoiceMode::kRequired || t["function"]["name"] == tools.function)
      fns.push_back(&t["function"]);
  }
  auto call_schema = [&](const Ordered& fn, const std::string& base) {
    // No parameters: OpenAI's empty parameter list.
    Ordered params =
        fn.contains("parameters")
            ? fn["parameters"]
            : Ordered{{"type", "object"}, {"properties", Ordered::object()}, {"additionalProperties", false}};
    move_refs(params, base + "/properties/" + key);
    return Ordered{{"type", "object"},
                   {"properties", {{"name", {{"const", fn["name"]}}}, {key, std::move(params)}}},
                   {"required", {"name", key}},
                   {"additionalProperties", false}};
  };
  Ordered schema;
  if (fns.size() == 1) {
    schema = call_schema(*fns[0], "");
  } else {
    schema = {{"anyOf", Ordered::array()}};
    for (size_t i = 0; i < fns.size(); ++i)
      schema["anyOf"].push_back(call_schema(*fns[i], "/anyOf/" + std::to_string(i)));
  }
  const std::string rules = grammar::json_schema_to_gbnf(schema.dump(), "tool-call");
  // One call, or several when parallel calls are allowed and the template can show them again:
  // Llama 3.1's template takes one call per assistant message.
  const bool many = tools.parallel && format != chat::ToolCallFormat::kLlama3;
  std::string root;
  switch (format) {
    case chat::ToolCallFormat::kLlama3: root = "root ::= tool-call\n"; break;
    case chat::ToolCallFormat::kHermes:
      root = "root ::= tagged-call" + std::string(many ? " ( \"\\n\" tagged-call )*" : "") +
             "\ntagged-call ::= \"<tool_call>\\n\" tool-call \"\\n</tool_call>\"\n";
      break;
    case chat::ToolCallFormat::kMistral:
      root = "root ::= \"[TOOL_CALLS][\" tool-call" + std::string(many ? " ( \", \" tool-call )*" : "") + " \"]\"\n";
      break;
    case chat::ToolCallFormat::kNone: return std::nullopt;
  }
  return root + rules;
}

}  // namespace rbees::server
