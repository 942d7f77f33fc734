// Runs tests/app/openai_sdk_test.mjs (the official `openai` npm package against the real daemon).
// The package is installed once, outside the repository, into ~/.cache/rbees-workerd/node; the test
// skips when Node or npm is missing or the registry cannot be reached.
#include <cstdio>
#include <filesystem>

#include "app/daemon.hpp"

namespace rbees::app::testing {
namespace {

constexpr const char* kOpenAiVersion = "6.30.1";  // supports Node 20 (7.x needs Node 22)

std::pair<int, std::string> shell(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, out};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The node_modules folder holding the pinned package, installing it when missing; empty to skip.
std::string openai_modules(std::string& why_not) {
  const char* home = std::getenv("HOME");
  if (!home) {
    why_not = "HOME is not set";
    return "";
  }
  const std::string prefix = std::string(home) + "/.cache/rbees-workerd/node";
  const std::string modules = prefix + "/node_modules";
  const std::string manifest = modules + "/openai/package.json";
  auto installed = [&] {
    return std::filesystem::exists(manifest) &&
           json::parse(read_file(manifest)).value("version", "") == std::string(kOpenAiVersion);
  };
  if (installed()) return modules;
  if (shell("command -v npm").first != 0) {
    why_not = "npm is not installed";
    return "";
  }
  std::filesystem::create_directories(prefix);
  const auto [rc, out] =
      shell("timeout 300 npm install --no-audit --no-fund --prefix " + quoted(prefix) + " openai@" + kOpenAiVersion);
  if (rc != 0 || !installed()) {
    why_not = "npm could not install openai@" + std::string(kOpenAiVersion) + " (registry unreachable?): " + out;
    return "";
  }
  return modules;
}

TEST(OpenAiSdk, CompletionsAndChatThroughTheOfficialClient) {
  if (shell("command -v node").first != 0) GTEST_SKIP() << "node is not installed";
  std::string why_not;
  const std::string modules = openai_modules(why_not);
  if (modules.empty()) GTEST_SKIP() << why_not;

  const std::string key = "sdk-test-key";
  // Full-precision weights and cache: the script compares greedy text with the reference's, which
  // reduced precision may leave at a near tie, differently on different CPUs.
  Daemon d({"--model", kModelDir, "--api-key", key, "--quant", "f32", "--kv-type", "f32"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  const std::string command = "timeout 300 env NODE_PATH=" + quoted(modules) +
                              " RBEES_BASE_URL=" + quoted(d.uri() + "/v1") + " RBEES_API_KEY=" + quoted(key) +
                              " RBEES_REF_JSON=" + quoted(source_path("tests/data/wp-llama-5m.ref-given.json")) +
                              " node " + quoted(source_path("tests/app/openai_sdk_test.mjs"));
  const auto [rc, out] = shell(command);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("openai sdk checks passed"), std::string::npos) << out;
}

// Tool calls with the real chat templates of four model families, as the pinned llama.cpp
// snapshot carries them; the embedded model writes the calls under a grammar (tool_choice required
// or named), so the SDK sees well-formed calls in each family's syntax.
class OpenAiSdkTools : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(OpenAiSdkTools, CallsRoundTripThroughTheOfficialClient) {
  const auto [file, format] = GetParam();
  const auto tmpl = std::filesystem::path(RBEES_LLAMA_CPP_DIR) / "models" / "templates" / file;
  if (!std::filesystem::exists(tmpl)) GTEST_SKIP() << "no " << tmpl << " in the llama.cpp snapshot";
  if (shell("command -v node").first != 0) GTEST_SKIP() << "node is not installed";
  std::string why_not;
  const std::string modules = openai_modules(why_not);
  if (modules.empty()) GTEST_SKIP() << why_not;

  Daemon d({"--model", kModelDir, "--api-key", "k", "--chat-template", tmpl.string()});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  const auto [rc, out] =
      shell("timeout 300 env NODE_PATH=" + quoted(modules) + " RBEES_BASE_URL=" + quoted(d.uri() + "/v1") +
            " RBEES_API_KEY=k RBEES_TOOL_FORMAT=" + format + " node " +
            quoted(source_path("tests/app/openai_sdk_tools_test.mjs")));
  EXPECT_EQ(rc, 0) << out << d.log();
  EXPECT_NE(out.find("openai sdk tool checks passed"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Templates, OpenAiSdkTools,
                         ::testing::Values(std::pair{"meta-llama-Llama-3.1-8B-Instruct.jinja", "llama3"},
                                           std::pair{"Qwen-Qwen2.5-7B-Instruct.jinja", "hermes"},
                                           std::pair{"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "hermes"},
                                           std::pair{"mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral"}),
                         [](const auto& info) {
                           std::string name = info.param.first;
                           name = name.substr(0, name.find(".jinja"));
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace rbees::app::testing
