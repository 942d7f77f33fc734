// Runs tests/app/chat_page_browser.mjs: the chat page at / in headless Chromium (Debian's
// `chromium`), driven by the npm package puppeteer-core, against the real daemon on the embedded
// model. scripts/setup.sh installs both (puppeteer-core, pinned, into
// ~/.cache/rbees-workerd/puppeteer); the test skips, saying which is missing, without them. Label
// `browser`. The open-server run leaves a screenshot, chat-page.png, in the working directory.
#include <cstdio>
#include <filesystem>

#include "app/daemon.hpp"

namespace rbees::app::testing {
namespace {

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

// What the script needs, or why the test cannot run.
struct Browser {
  std::string chromium;
  std::string modules;  // node_modules holding puppeteer-core
  std::string missing;
};

Browser find_browser() {
  Browser b;
  const char* env = std::getenv("RBEES_CHROMIUM");
  b.chromium = env ? env : "";
  if (b.chromium.empty()) {
    auto [rc, out] = shell("command -v chromium");
    if (rc == 0) b.chromium = out.substr(0, out.find('\n'));
  }
  if (b.chromium.empty()) {
    b.missing = "chromium is not installed (scripts/setup.sh installs Debian's chromium)";
    return b;
  }
  if (shell("command -v node").first != 0) {
    b.missing = "node is not installed";
    return b;
  }
  const char* home = std::getenv("HOME");
  b.modules = std::string(home ? home : "") + "/.cache/rbees-workerd/puppeteer/node_modules";
  if (!std::filesystem::exists(b.modules + "/puppeteer-core/package.json")) {
    b.missing = "puppeteer-core is not installed in " + b.modules + " (scripts/setup.sh installs it)";
  }
  return b;
}

void run_page_script(const Daemon& d, const Browser& b, const std::string& mode, const std::string& key = "") {
  const std::string command = "timeout 120 env NODE_PATH=" + quoted(b.modules) + " RBEES_URL=" + quoted(d.uri()) +
                              " RBEES_CHROMIUM=" + quoted(b.chromium) + " RBEES_MODE=" + mode +
                              " RBEES_API_KEY=" + quoted(key) +
                              (mode == "open" ? " RBEES_SCREENSHOT=chat-page.png" : "") + " node " +
                              quoted(source_path("tests/app/chat_page_browser.mjs"));
  const auto [rc, out] = shell(command);
  EXPECT_EQ(rc, 0) << out << "\n--- daemon log ---\n" << d.log();
  EXPECT_NE(out.find("chat page browser checks passed (" + mode + ")"), std::string::npos) << out;
}

// A conversation streams, stop cancels the job on the server, the layout holds at a phone's width.
TEST(ChatPageBrowser, ConversationStreamsAndStopCancelsTheJob) {
  const Browser b = find_browser();
  if (!b.missing.empty()) GTEST_SKIP() << b.missing;
  // --ignore-eos: a reply runs to max_tokens, so that the long one is still running when stopped.
  Daemon d({"--model", kModelDir, "--ignore-eos"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  run_page_script(d, b, "open");
}

TEST(ChatPageBrowser, TheKeyIsAskedForAndUsed) {
  const Browser b = find_browser();
  if (!b.missing.empty()) GTEST_SKIP() << b.missing;
  const std::string key = "page-test-key";
  Daemon d({"--model", kModelDir, "--api-key", key, "--ignore-eos"});
  ASSERT_TRUE(d.wait_healthy()) << d.log();
  run_page_script(d, b, "key", key);
}

}  // namespace
}  // namespace rbees::app::testing
