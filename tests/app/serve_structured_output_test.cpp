// Structured output through HTTP with the default model (which knows nothing of JSON): JSON schemas
// (OpenAI's response_format on both endpoints, llama-server's json_schema, /execute's json_schema),
// json_object and GBNF grammars are obeyed; max_tokens inside a structure ends with "length"; a
// schema or grammar that cannot be enforced is a 400 naming the field.
#include <functional>
#include <regex>

#include "app/daemon.hpp"

namespace rbees::app::testing {
namespace {

class ServeStructured : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = new Daemon({"--model", kModelDir});
    ASSERT_TRUE(daemon_->wait_healthy()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  static json post(const std::string& path, const json& body, int expect_status = 200) {
    auto res = daemon_->client().Post(path, body.dump(), "application/json");
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, expect_status) << res->body;
    return json::parse(res->body);
  }
  static Daemon* daemon_;
};
Daemon* ServeStructured::daemon_ = nullptr;

bool is_int_in(const json& v, int lo, int hi) {
  return v.is_number_integer() && v.get<int>() >= lo && v.get<int>() <= hi;
}
bool is_short_string(const json& v, size_t max_code_points) {
  if (!v.is_string()) return false;
  size_t n = 0;
  for (unsigned char c : v.get<std::string>()) n += (c & 0xC0) != 0x80;
  return n <= max_code_points;
}
bool has_exactly(const json& o, std::vector<std::string> keys) {
  if (!o.is_object() || o.size() != keys.size()) return false;
  for (const auto& k : keys) {
    if (!o.contains(k)) return false;
  }
  return true;
}

struct SchemaCase {
  std::string name;
  json schema;
  std::function<bool(const json&)> valid;
};

std::vector<SchemaCase> schema_cases() {
  const json point = {{"type", "object"},
                      {"properties",
                       {{"x", {{"type", "integer"}, {"minimum", 0}, {"maximum", 100}}},
                        {"y", {{"type", "integer"}, {"minimum", 0}, {"maximum", 100}}}}},
                      {"required", {"x", "y"}},
                      {"additionalProperties", false}};
  auto valid_point = [](const json& p) {
    return has_exactly(p, {"x", "y"}) && is_int_in(p["x"], 0, 100) && is_int_in(p["y"], 0, 100);
  };
  return {
      {"nested",
       json::parse(R"({"type":"object","properties":{"user":{"type":"object","properties":{"name":{"type":"string",
         "maxLength":16},"id":{"type":"integer","minimum":1,"maximum":999}},"required":["name","id"],
         "additionalProperties":false},"active":{"type":"boolean"}},"required":["user","active"],
         "additionalProperties":false})"),
       [](const json& j) {
         return has_exactly(j, {"user", "active"}) && j["active"].is_boolean() &&
                has_exactly(j["user"], {"name", "id"}) && is_short_string(j["user"]["name"], 16) &&
                is_int_in(j["user"]["id"], 1, 999);
       }},
      {"bounded_array",
       json::parse(R"({"type":"object","properties":{"items":{"type":"array","items":{"type":"integer","minimum":-5,
         "maximum":5},"minItems":2,"maxItems":4}},"required":["items"],"additionalProperties":false})"),
       [](const json& j) {
         if (!has_exactly(j, {"items"}) || !j["items"].is_array()) return false;
         if (j["items"].size() < 2 || j["items"].size() > 4) return false;
         for (const auto& v : j["items"]) {
           if (!is_int_in(v, -5, 5)) return false;
         }
         return true;
       }},
      {"enums", json::parse(R"({"type":"object","properties":{"color":{"enum":["red","green","blue"]},
         "size":{"enum":[1,2,3]}},"required":["color","size"],"additionalProperties":false})"),
       [](const json& j) {
         return has_exactly(j, {"color", "size"}) &&
                (j["color"] == "red" || j["color"] == "green" || j["color"] == "blue") && is_int_in(j["size"], 1, 3);
       }},
      {"pattern",
       json::parse(R"({"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]{3}-[0-9]{2}$"},
         "note":{"type":"string","maxLength":20}},"required":["code","note"],"additionalProperties":false})"),
       [](const json& j) {
         return has_exactly(j, {"code", "note"}) && j["code"].is_string() &&
                std::regex_match(j["code"].get<std::string>(), std::regex("[A-Z]{3}-[0-9]{2}")) &&
                is_short_string(j["note"], 20);
       }},
      {"any_of", json::parse(R"({"type":"object","properties":{"v":{"anyOf":[{"type":"integer","minimum":0,"maximum":9},
         {"type":"string","maxLength":8},{"type":"null"}]}},"required":["v"],"additionalProperties":false})"),
       [](const json& j) {
         return has_exactly(j, {"v"}) && (is_int_in(j["v"], 0, 9) || is_short_string(j["v"], 8) || j["v"].is_null());
       }},
      {"refs",
       {{"$defs", {{"pt", point}}},
        {"type", "object"},
        {"properties", {{"a", {{"$ref", "#/$defs/pt"}}}, {"b", {{"$ref", "#/$defs/pt"}}}}},
        {"required", {"a", "b"}},
        {"additionalProperties", false}},
       [valid_point](const json& j) {
         return has_exactly(j, {"a", "b"}) && valid_point(j["a"]) && valid_point(j["b"]);
       }},
      {"string_list",
       json::parse(R"({"type":"array","items":{"type":"string","maxLength":10},"minItems":1,"maxItems":3})"),
       [](const json& j) {
         if (!j.is_array() || j.empty() || j.size() > 3) return false;
         for (const auto& v : j) {
           if (!is_short_string(v, 10)) return false;
         }
         return true;
       }},
  };
}

TEST_F(ServeStructured, JsonSchemasGiveValidJsonOnEveryEndpoint) {
  for (const auto& c : schema_cases()) {
    for (int seed = 1; seed <= 3; ++seed) {
      SCOPED_TRACE(c.name + " seed " + std::to_string(seed));
      const json fmt = {{"type", "json_schema"},
                        {"json_schema", {{"name", c.name}, {"strict", true}, {"schema", c.schema}}}};
      json res = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "Tell me about Pierre."}}}},
                                               {"max_tokens", 300},
                                               {"temperature", 0.8},
                                               {"seed", seed},
                                               {"response_format", fmt}});
      ASSERT_EQ(res["choices"][0]["finish_reason"], "stop");
      std::string text = res["choices"][0]["message"]["content"];
      EXPECT_TRUE(c.valid(json::parse(text))) << text;
      // The completions endpoint, and llama-server's json_schema field.
      res = post("/v1/completions", {{"prompt", "Natasha"},
                                     {"max_tokens", 300},
                                     {"temperature", 0.8},
                                     {"seed", seed},
                                     {"json_schema", c.schema}});
      ASSERT_EQ(res["choices"][0]["finish_reason"], "stop");
      text = res["choices"][0]["text"];
      EXPECT_TRUE(c.valid(json::parse(text))) << text;
    }
  }
  // /execute takes json_schema too.
  const auto r = execute(
      *daemon_,
      {{"job_id", "schema-job"}, {"prompt", "Andrei"}, {"max_tokens", 100}, {"json_schema", schema_cases()[2].schema}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.end["stop_reason"], "eos");
  EXPECT_TRUE(schema_cases()[2].valid(json::parse(r.text))) << r.text;
}

// A whole object when the model closes it; when max_tokens comes first, the text so far is an
// object cut short (a parser finds no error before the end of the input).
TEST_F(ServeStructured, JsonObjectIsAnObjectOrOneCutShortByLength) {
  int complete = 0;
  // At least four seeds, and more until one object is closed: which seeds close one within
  // max_tokens depends on the draws, which follow the build's rounding (a sanitized build's too).
  for (int seed = 1; seed <= 4 || (complete == 0 && seed <= 24); ++seed) {
    const json res =
        post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "Describe the ball as JSON."}}}},
                                      {"max_tokens", 400},
                                      {"temperature", 0.7},
                                      {"seed", seed},
                                      {"response_format", {{"type", "json_object"}}}});
    const std::string text = res["choices"][0]["message"]["content"];
    if (res["choices"][0]["finish_reason"] == "stop") {
      EXPECT_TRUE(json::parse(text).is_object()) << text;
      ++complete;
    } else {
      ASSERT_EQ(res["choices"][0]["finish_reason"], "length");
      try {
        (void)json::parse(text);
        ADD_FAILURE() << "a complete object ended by length: " << text;
      } catch (const json::parse_error& e) {
        EXPECT_EQ(e.byte, text.size() + 1) << e.what() << ": " << text;
      }
    }
  }
  EXPECT_GE(complete, 1);
  // Five tokens cannot hold an object: the answer is cut short, with finish_reason "length".
  const json res = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                                 {"max_tokens", 5},
                                                 {"response_format", {{"type", "json_object"}}}});
  EXPECT_EQ(res["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(res["usage"]["completion_tokens"], 5);
  EXPECT_EQ(std::string(res["choices"][0]["message"]["content"]).substr(0, 1), "{");
}

TEST_F(ServeStructured, GbnfGrammarsAreObeyed) {
  struct Case {
    std::string gbnf;
    std::string full;    // a stopped output matches this
    std::string prefix;  // an output cut by length matches this
  };
  const std::vector<Case> cases = {
      {"root ::= expr \"=\" num\nexpr ::= num ([-+*/] num)*\nnum ::= [0-9]{1,3}\n",
       "[0-9]{1,3}([-+*/][0-9]{1,3})*=[0-9]{1,3}", "[0-9]{1,3}([-+*/][0-9]{1,3})*[-+*/]?[0-9]{0,3}"},
      {"root ::= word (\",\" \" \"? word){2,5}\nword ::= [a-z]{2,10}\n", "[a-z]{2,10}(, ?[a-z]{2,10}){2,5}", ""},
      {"root ::= ident (\", \" ident)*\nident ::= [a-zA-Z_] [a-zA-Z0-9_]{0,15}\n",
       "[a-zA-Z_][a-zA-Z0-9_]{0,15}(, [a-zA-Z_][a-zA-Z0-9_]{0,15})*",
       "[a-zA-Z_][a-zA-Z0-9_]{0,15}(, [a-zA-Z_][a-zA-Z0-9_]{0,15})*(,|, )?"},
  };
  for (const auto& c : cases) {
    for (int seed = 1; seed <= 2; ++seed) {
      SCOPED_TRACE(c.gbnf + " seed " + std::to_string(seed));
      const json res = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                                     {"max_tokens", 60},
                                                     {"temperature", 0.8},
                                                     {"seed", seed},
                                                     {"grammar", c.gbnf}});
      const std::string text = res["choices"][0]["message"]["content"];
      if (res["choices"][0]["finish_reason"] == "stop") {
        EXPECT_TRUE(std::regex_match(text, std::regex(c.full))) << text;
      } else {
        ASSERT_FALSE(c.prefix.empty()) << "expected this grammar to finish: " << text;
        EXPECT_TRUE(std::regex_match(text, std::regex(c.prefix))) << text;
      }
    }
  }
}

TEST_F(ServeStructured, UnenforceableConstraintsAre400sNamingTheField) {
  const json msgs = {{{"role", "user"}, {"content", "hi"}}};
  auto error = [&](const json& extra) {
    json body = {{"messages", msgs}};
    body.update(extra);
    return post("/v1/chat/completions", body, 400)["error"];
  };
  json e = error(
      {{"response_format",
        {{"type", "json_schema"},
         {"json_schema", {{"name", "x"}, {"schema", {{"type", "object"}, {"patternProperties", json::object()}}}}}}}});
  EXPECT_EQ(e["param"], "response_format.json_schema.schema");
  EXPECT_NE(e["message"].get<std::string>().find("unsupported keyword 'patternProperties' at #"), std::string::npos)
      << e["message"];
  e = error({{"grammar", "root ::= item\n"}});
  EXPECT_EQ(e["param"], "grammar");
  EXPECT_NE(e["message"].get<std::string>().find("undefined rule 'item'"), std::string::npos) << e["message"];
  EXPECT_EQ(error({{"response_format", "garbage"}})["param"], "response_format");
  EXPECT_EQ(error({{"response_format", {{"type", "xml"}}}})["param"], "response_format.type");
  EXPECT_EQ(error({{"response_format", {{"type", "json_schema"}}}})["param"], "response_format.json_schema");
  EXPECT_EQ(error({{"response_format", {{"type", "json_object"}, {"extra", 1}}}})["param"], "response_format.extra");
  EXPECT_EQ(error({{"grammar", 42}})["param"], "grammar");
  EXPECT_EQ(error({{"json_schema", {{"type", "object"}}}, {"grammar", "root ::= \"a\""}})["param"], "json_schema");
  // /execute: the worker protocol's error shape.
  auto res = daemon_->client().Post(
      "/execute",
      json({{"job_id", "bad-schema"}, {"prompt", "x"}, {"json_schema", {{"type", "string"}, {"format", "hostname"}}}})
          .dump(),
      "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 400) << res->body;
  const json errs = json::parse(res->body)["errors"];
  EXPECT_EQ(errs[0]["field"], "json_schema");
  EXPECT_EQ(errs[0]["message"], "unsupported format 'hostname' at #");
}

}  // namespace
}  // namespace rbees::app::testing
