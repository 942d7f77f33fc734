// The chat page built into the binary: every file of src/server/web served byte for byte at its
// path with its type and a Content-Security-Policy, open without the API key, loading nothing from
// elsewhere and never writing model output as HTML.
#include "server/http_server.hpp"
#include "server/web_assets.hpp"

#include "fake_engine.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace rbees::server {
namespace {

using nlohmann::json;

std::string read_source(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const std::filesystem::path kWebDir = std::filesystem::path(RBEES_SOURCE_DIR) / "src/server/web";

class ChatPageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.worker_id = "w-page";
    options.api_key = "sekret";
    server_ = std::make_unique<HttpServer>(options, std::make_shared<WorkerMetrics>());
    port_ = server_->bind("127.0.0.1", 0);
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_->listen(); });
    server_->set_engine(std::make_shared<testing::FakeEngine>());
  }
  void TearDown() override {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Client client() const { return httplib::Client("127.0.0.1", port_); }

  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(ChatPageTest, EveryFileOfTheWebFolderIsServedAsItIs) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kWebDir)) {
    const std::string name = entry.path().filename().string();
    const std::string path = name == "index.html" ? "/" : "/" + name;
    auto res = client().Get(path);  // no key: the page asks for it itself
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(res->body, read_source(entry.path())) << path;
    const std::string type = res->get_header_value("Content-Type");
    const std::string ext = entry.path().extension().string();
    EXPECT_EQ(type, ext == ".html" ? "text/html; charset=utf-8"
                    : ext == ".js" ? "text/javascript; charset=utf-8"
                                   : "text/css; charset=utf-8")
        << path;
    const std::string csp = res->get_header_value("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
    // Nothing is fetched from another host.
    EXPECT_EQ(res->body.find("http://"), std::string::npos) << path;
    EXPECT_EQ(res->body.find("https://"), std::string::npos) << path;
    ++files;
  }
  EXPECT_EQ(files, web_assets().size());
  EXPECT_GE(files, 3u);
  EXPECT_EQ(client().Get("/index.html")->status, 401);  // served at / only: an unknown path
}

TEST_F(ChatPageTest, ThePageLoadsItsOwnScriptAndStyleOnlyAndWritesOutputAsText) {
  const std::string html = client().Get("/")->body;
  EXPECT_NE(html.find("<script src=\"/chat.js\""), std::string::npos);
  EXPECT_NE(html.find("<link rel=\"stylesheet\" href=\"/chat.css\">"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);  // the policy would block an inline script
  EXPECT_EQ(html.find("style="), std::string::npos);
  const std::string js = client().Get("/chat.js")->body;
  EXPECT_EQ(js.find("innerHTML"), std::string::npos);
  EXPECT_EQ(js.find("insertAdjacentHTML"), std::string::npos);
  EXPECT_NE(js.find("/v1/chat/completions"), std::string::npos);
  const std::string css = client().Get("/chat.css")->body;
  EXPECT_NE(css.find("prefers-color-scheme: dark"), std::string::npos);
}

TEST_F(ChatPageTest, HealthTellsThePageAKeyIsNeeded) {
  auto res = client().Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["api_key_required"], true);
}

}  // namespace
}  // namespace rbees::server
