#include "server/ready_callback.hpp"

#include "core/log.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <regex>
#include <thread>

namespace rbees::server {

namespace {

struct SplitUrl {
  std::string origin;  // scheme://host:port
  std::string path;
};

std::optional<SplitUrl> split_url(const std::string& url) {
  static const std::regex re(R"(^(https?://[^/?#]+)([/?].*)?$)", std::regex::icase);
  std::smatch m;
  if (!std::regex_match(url, m, re)) return std::nullopt;
  return SplitUrl{m[1], m[2].matched && !m[2].str().empty() ? m[2].str() : "/"};
}

}  // namespace

CallbackResult post_ready_callback(const std::string& url, const ReadyInfo& info, const CallbackOptions& options) {
  using clock = std::chrono::steady_clock;
  CallbackResult result;
  const auto split = split_url(url);
  if (!split) {
    result.last_error = "not an http:// URL: " + url;
    return result;
  }
  const std::string body =
      nlohmann::json{{"worker_id", info.worker_id},   {"uri", info.uri},       {"model_ref", info.model_ref},
                     {"vram_bytes", info.vram_bytes}, {"device", info.device}, {"context_length", info.context_length}}
          .dump();
  const auto deadline = clock::now() + options.timeout;
  auto backoff = options.initial_backoff;

  while (true) {
    ++result.attempts;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    httplib::Client client(split->origin);
    const auto attempt_limit = std::max<std::chrono::milliseconds>(std::min(left, std::chrono::milliseconds(10000)),
                                                                   std::chrono::milliseconds(100));
    client.set_connection_timeout(attempt_limit);
    client.set_read_timeout(attempt_limit);
    client.set_write_timeout(attempt_limit);
    auto res = client.Post(split->path, body, "application/json");
    if (res && res->status >= 200 && res->status < 300) {
      result.ok = true;
      log::info("ready_callback", "orchestrator acknowledged", {{"attempts", result.attempts}});
      return result;
    }
    result.last_error = res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error());
    log::warn("ready_callback", "callback failed; will retry",
              {{"attempt", result.attempts}, {"error", result.last_error}});

    const auto now = clock::now();
    if (now >= deadline) return result;
    std::this_thread::sleep_for(std::min<clock::duration>(backoff, deadline - now));
    if (clock::now() >= deadline) {
      // One last try at the deadline would race it; the window is spent.
      return result;
    }
    backoff = std::min(backoff * 2, options.max_backoff);
  }
}

}  // namespace rbees::server
