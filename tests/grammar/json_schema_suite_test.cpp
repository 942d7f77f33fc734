// The JSON Schema converter against the official JSON-Schema-Test-Suite (Debian's
// json-schema-test-suite package, draft 7): every schema is either refused with an error naming a
// keyword, or converted; a converted schema's grammar must reject every instance the suite marks
// invalid. Valid instances it rejects are counted by cause (object members in another order than
// the schema's, numbers such as 1.0 for integers, other) and must stay within the known causes.

#include "grammar/grammar_error.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar/json_schema.hpp"
#include "grammar_test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

namespace rbees::grammar {
namespace {

using Json = nlohmann::ordered_json;
constexpr const char* kSuite = "/usr/share/json-schema-test-suite/tests/draft7";

bool has_float_integer(const Json& j) {
  if (j.is_number_float()) return j.get<double>() == static_cast<double>(static_cast<int64_t>(j.get<double>()));
  if (!j.is_structured()) return false;
  for (const auto& x : j) {
    if (has_float_integer(x)) return true;
  }
  return false;
}

bool has_object(const Json& j) {
  if (j.is_object()) return j.size() > 1;
  if (j.is_array()) {
    for (const auto& x : j) {
      if (has_object(x)) return true;
    }
  }
  return false;
}

TEST(JsonSchemaSuite, ConvertedSchemasRejectEveryInvalidInstance) {
  if (!std::filesystem::exists(kSuite)) {
    GTEST_SKIP() << kSuite << " absent: install Debian's json-schema-test-suite (scripts/setup.sh does)";
  }
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(kSuite)) {
    if (f.path().extension() == ".json") files.push_back(f.path());
  }
  for (const auto& f : std::filesystem::directory_iterator(std::string(kSuite) + "/optional/format")) {
    const auto stem = f.path().stem().string();
    if (stem == "date" || stem == "time" || stem == "date-time" || stem == "email" || stem == "ipv4" ||
        stem == "uuid") {
      files.push_back(f.path());
    }
  }
  std::sort(files.begin(), files.end());
  int converted = 0, refused = 0, instances = 0, valid_ok = 0, invalid_ok = 0;
  int invalid_accepted = 0;
  std::map<std::string, int> valid_rejected, refusals;
  for (const auto& path : files) {
    std::ifstream in(path);
    const Json cases = Json::parse(in);
    for (const auto& c : cases) {
      std::shared_ptr<const CompiledGrammar> g;
      try {
        g = compile_gbnf(json_schema_to_gbnf(c["schema"].dump()), testing::byte_vocab());
      } catch (const GrammarError& e) {
        ++refused;
        std::string why = e.what();
        EXPECT_EQ(why.rfind("json_schema: ", 0), 0u) << why;
        ++refusals[why.substr(0, why.find(" at "))];
        continue;
      }
      ++converted;
      for (const auto& t : c["tests"]) {
        ++instances;
        GrammarMatcher m(g);
        const std::string text = t["data"].dump();
        const bool accepted = m.accept_bytes(text) && m.can_end();
        const bool valid = t["valid"].get<bool>();
        if (accepted == valid) {
          (valid ? valid_ok : invalid_ok)++;
        } else if (!valid) {
          ++invalid_accepted;
          ADD_FAILURE() << path.filename() << ": " << c["description"] << " / " << t["description"]
                        << ": accepted the invalid instance " << text;
        } else {
          const std::string cause = has_float_integer(t["data"]) ? "number with a zero fraction"
                                    : has_object(t["data"])      ? "object members in another order or shape"
                                                                 : "other";
          ++valid_rejected[cause];
          if (cause == "other") {
            std::cout << "rejected valid: " << path.filename() << ": " << c["description"] << " / " << t["description"]
                      << ": " << text << "\n";
          }
        }
      }
    }
  }
  std::cout << "schemas: " << converted << " converted, " << refused << " refused\n"
            << "instances of converted schemas: " << instances << "; valid accepted " << valid_ok
            << ", invalid rejected " << invalid_ok << ", invalid accepted " << invalid_accepted << "\n";
  for (const auto& [cause, n] : valid_rejected) std::cout << "valid rejected (" << cause << "): " << n << "\n";
  for (const auto& [why, n] : refusals) std::cout << "refused " << n << "x: " << why << "\n";
  EXPECT_EQ(invalid_accepted, 0);
  EXPECT_EQ(valid_rejected["other"], 0);
  EXPECT_GE(converted, 60);
}

}  // namespace
}  // namespace rbees::grammar
